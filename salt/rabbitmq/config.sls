{%- from "salt/rabbitmq/map.jinja" import rabbitmq with context %}

include:
  - salt.rabbitmq.package
{%- for name in ("rabbitmq-env.conf", "rabbitmq.conf") %}

rabbitmq-{{ name }}-file-managed:
  file.managed:
    - name: /etc/rabbitmq/{{ name }}
    - source: salt://salt/rabbitmq/files/{{ name }}.jinja
    - template: jinja
    - context:
        rabbitmq: {{ rabbitmq | json }}
    - user: root
    - group: rabbitmq
    - mode: "0640"
    - require:
      - sls: salt.rabbitmq.package
{%- endfor %}
