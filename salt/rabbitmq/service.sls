{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/rabbitmq/map.jinja" import rabbitmq with context %}
{%- from "salt/common/consul.jinja" import consul_service with context %}

include:
  - salt.rabbitmq.config

rabbitmq-service-running:
  service.running:
    - name: rabbitmq-server
    - enable: {{ common.enable_services_at_boot | json }}
    - watch:
      - sls: salt.rabbitmq.config

# epmd outlives the broker: one started before this configuration (by a package's own
# start) keeps listening everywhere until it is stopped with the broker.
rabbitmq-epmd-rebind-cmd-run:
  cmd.run:
    - name: service rabbitmq-server stop && epmd -kill && service rabbitmq-server start
    - onlyif: ss -ltnH 'sport = :4369' | awk '{print $4}' | grep -vqE '^(127\.0\.0\.1|\[::1\]):4369$'
    - require:
      - service: rabbitmq-service-running
{{ consul_service("rabbitmq", "broker", rabbitmq.tls_port if common.tls.enabled else rabbitmq.port, {"service": "rabbitmq-service-running"}) }}
