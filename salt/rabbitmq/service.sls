{%- from "salt/common/map.jinja" import common with context %}
include:
  - salt.rabbitmq.config

rabbitmq-service-running:
  service.running:
    - name: rabbitmq-server
    - enable: {{ common.enable_services_at_boot | json }}
    - watch:
      - sls: salt.rabbitmq.config
