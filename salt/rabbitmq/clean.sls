{#- rabbitmq stopped on this host. Its data (the appliance's database or queues) is kept,
    so a later highstate brings the appliance back as it was. #}
{%- from "salt/common/consul.jinja" import consul_service_absent with context %}
{{ consul_service_absent("rabbitmq", "broker", {"service": "rabbitmq-service-dead"}) }}

rabbitmq-service-dead:
  service.dead:
    - name: rabbitmq-server
