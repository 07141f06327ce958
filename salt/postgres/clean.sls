{#- postgres stopped on this host. Its data (the appliance's database or queues) is kept,
    so a later highstate brings the appliance back as it was. #}
{%- from "salt/common/consul.jinja" import consul_service_absent with context %}
{{ consul_service_absent("postgres", "db", {"service": "postgres-service-dead"}) }}

postgres-service-dead:
  service.dead:
    - name: postgresql

postgres-exporter-service-dead:
  service.dead:
    - name: prometheus-postgres-exporter
