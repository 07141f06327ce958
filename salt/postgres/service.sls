{%- from "salt/common/map.jinja" import common with context %}
include:
  - salt.postgres.config

postgres-service-running:
  service.running:
    - name: postgresql
    - enable: {{ common.enable_services_at_boot | json }}
    - watch:
      - sls: salt.postgres.config
