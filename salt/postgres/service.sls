{%- from "salt/postgres/map.jinja" import postgres with context %}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/common/consul.jinja" import consul_service with context %}
include:
  - salt.postgres.config

postgres-service-running:
  service.running:
    - name: postgresql
    - enable: {{ common.enable_services_at_boot | json }}
    - watch:
      - sls: salt.postgres.config
{{ consul_service("postgres", "db", postgres.port, {"service": "postgres-service-running"}) }}
