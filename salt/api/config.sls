{%- from "salt/api/map.jinja" import api with context %}
{%- from "salt/common/map.jinja" import common, secrets with context %}
{%- from "salt/postgres/map.jinja" import postgres with context %}
{%- from "salt/rabbitmq/map.jinja" import rabbitmq with context %}
{%- from "salt/common/consul.jinja" import consul_lookups with context %}
{%- from "salt/common/tls.jinja" import service_tls_files with context %}
{%- from "salt/mta/map.jinja" import mta with context %}
{%- from "salt/logserver/map.jinja" import logserver with context %}
{%- set config_dir = api.config_file.rsplit("/", 1)[0] %}
{%- set log_search_file = config_dir ~ "/log-search.toml" %}
{%- set consul_services = {} %}
{%- set _ = consul_lookups(consul_services, {"database_url": "db", "amqp_url": "broker"}) %}

include:
  - salt.api.install

api-config-directory-file-directory:
  file.directory:
    - name: {{ config_dir }}
    - user: root
    - group: {{ api.user }}
    - mode: "0750"
    - require:
      - user: api-user-present

api-data-directory-file-directory:
  file.directory:
    - name: {{ api.data_dir }}
    - user: {{ api.user }}
    - group: {{ api.user }}
    - mode: "0750"
    - makedirs: True
    - require:
      - user: api-user-present

# The API processes' Prometheus counts (raycrafter:api:metrics_dir).
api-metrics-directory-file-directory:
  file.directory:
    - name: {{ api.metrics_dir }}
    - user: {{ api.user }}
    - group: {{ api.user }}
    - mode: "0700"
    - makedirs: True
    - require:
      - user: api-user-present
{%- if api.metrics_tls %}
{{ service_tls_files("api-metrics", api.metrics_tls_dir, api.user, "user: api-user-present") }}
{%- endif %}

# Holds the database and broker passwords and the log credential key: readable by the
# API's user only.
api-config-file-managed:
  file.managed:
    # It holds a secret: no diff of it in Salt's output or its job returns.
    - show_changes: False
    - name: {{ api.config_file }}
    - source: salt://salt/api/files/api.toml.jinja
    - template: jinja
    - context:
        api: {{ api | json }}
        scene_limits: {{ common.scene_limits | json }}
        exchange: {{ rabbitmq.exchange | json }}
        database_url: {{ postgres.url_base | replace("{user}", postgres.user) | replace("{password}", secrets.postgres_password | urlencode) | json }}
        amqp_url: {{ rabbitmq.url_base | replace("{user}", rabbitmq.api_user) | replace("{password}", secrets.rabbitmq_api_password | urlencode) | json }}
        amqp_ca_file: {{ (common.tls.ca_file if common.tls.enabled else "") | json }}
        log_credential_key: {{ secrets.log_credential_key | json }}
        logserver: {{ logserver | json }}
        consul_agent: {{ (common.consul.agent if common.discovery == "consul" else "") | json }}
        consul_services: {{ consul_services | json }}
        mail_from: {{ (api.notify.mail_from or "raycrafter@" ~ mta.mailname) | json }}
    - user: {{ api.user }}
    - group: {{ api.user }}
    - mode: "0600"
    - require:
      - file: api-config-directory-file-directory

# raycrafter-admin on root's PATH, reading this host's configuration without --config
# (a --config or RAYCRAFTER_API_CONFIG of the operator's own still wins).
api-admin-command-file-managed:
  file.managed:
    - name: /usr/local/sbin/raycrafter-admin
    - mode: "0755"
    - contents: |
        #!/bin/sh
        # File managed by Salt (salt/api). Edits are overwritten.
        RAYCRAFTER_API_CONFIG=${RAYCRAFTER_API_CONFIG:-{{ api.config_file }}} \
        RAYCRAFTER_LOG_SEARCH_CONFIG=${RAYCRAFTER_LOG_SEARCH_CONFIG:-{{ log_search_file }}} \
            exec {{ api.venv }}/bin/raycrafter-admin "$@"
    - require:
      - file: api-config-file-managed
      - file: api-log-search-file-managed

# Where raycrafter-admin logs finds the log server's search port (on the logging host, by
# the name its certificate holds) and the token it asks with: root's alone, as the
# command is; the API's processes never search.
api-log-search-file-managed:
  file.managed:
    - name: {{ log_search_file }}
    - user: root
    - group: root
    - mode: "0600"
    - show_changes: False
    - contents: |
        # File managed by Salt (salt/api). Edits are overwritten.
        host = {{ common.addresses.logging | json }}
        port = {{ logserver.search_port }}
        ca_file = {{ (common.tls.ca_file if common.tls.enabled else "") | json }}
        token = {{ secrets.log_search_token | json }}
    - require:
      - file: api-config-directory-file-directory
