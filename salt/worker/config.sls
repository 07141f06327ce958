{%- from "salt/worker/map.jinja" import worker with context %}
{%- from "salt/common/map.jinja" import common, secrets with context %}
{%- from "salt/rabbitmq/map.jinja" import rabbitmq with context %}
{%- from "salt/logserver/map.jinja" import logserver with context %}
{%- from "salt/common/consul.jinja" import consul_lookups with context %}
{%- from "salt/common/tls.jinja" import service_tls_files with context %}
{%- set consul_services = {} %}
{#- A site's own raycrafter:worker:api_url is kept as it is. #}
{%- set _ = consul_lookups(consul_services, {"amqp_url": "broker", "api_url": "web"} if not salt["pillar.get"]("raycrafter:worker:api_url") else {"amqp_url": "broker"}) %}

include:
  - salt.worker.cluster_access

worker-api-token-file-managed:
  file.managed:
    # It holds a secret: no diff of it in Salt's output or its job returns.
    - show_changes: False
    - name: {{ worker.config_dir }}/api.token
    - contents_pillar: raycrafter_secrets:api_worker_token
    - user: {{ worker.user }}
    - group: {{ worker.user }}
    - mode: "0600"
    - require:
      - file: worker-config-directory-file-directory

# The worker processes' Prometheus counts (raycrafter:worker:metrics_dir).
worker-metrics-directory-file-directory:
  file.directory:
    - name: {{ worker.metrics_dir }}
    - user: {{ worker.user }}
    - group: {{ worker.user }}
    - mode: "0700"
    - makedirs: True
    - require:
      - user: worker-user-present
{%- if worker.metrics_tls %}
{{ service_tls_files("worker-metrics", worker.metrics_tls_dir, worker.user, "user: worker-user-present") }}
{%- endif %}

# Holds the broker password: readable by the worker's user only.
worker-config-file-managed:
  file.managed:
    # It holds a secret: no diff of it in Salt's output or its job returns.
    - show_changes: False
    - name: {{ worker.config_dir }}/worker.toml
    - source: salt://salt/worker/files/worker.toml.jinja
    - template: jinja
    - context:
        worker: {{ worker | json }}
        scene_limits: {{ common.scene_limits | json }}
        logserver: {{ logserver | json }}
        exchange: {{ rabbitmq.exchange | json }}
        queue: {{ rabbitmq.queue | json }}
        amqp_url: {{ rabbitmq.url_base | replace("{user}", rabbitmq.worker_user) | replace("{password}", secrets.rabbitmq_worker_password | urlencode) | json }}
        consul_agent: {{ (common.consul.agent if common.discovery == "consul" else "") | json }}
        consul_services: {{ consul_services | json }}
    - user: {{ worker.user }}
    - group: {{ worker.user }}
    - mode: "0600"
    - require:
      - file: worker-config-directory-file-directory
