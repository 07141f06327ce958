{%- from "salt/rabbitmq/map.jinja" import rabbitmq with context %}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/common/tls.jinja" import service_tls_files %}

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
        ca_file: {{ common.tls.ca_file | json }}
    - user: root
    - group: rabbitmq
    - mode: "0640"
    - require:
      - sls: salt.rabbitmq.package
{%- endfor %}
{%- if common.tls.enabled %}
{{- service_tls_files("rabbitmq", rabbitmq.tls_dir, "rabbitmq", "sls: salt.rabbitmq.package") }}
{%- endif %}

# The broker's own Prometheus plugin; the plugins the package enables by default stay off.
rabbitmq-enabled-plugins-file-managed:
  file.managed:
    - name: /etc/rabbitmq/enabled_plugins
    - contents: "[rabbitmq_prometheus]."
    - user: root
    - group: rabbitmq
    - mode: "0640"
    - require:
      - sls: salt.rabbitmq.package
