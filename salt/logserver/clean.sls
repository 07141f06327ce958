{#- The log server removed from this host: its program and configuration (which holds
    the credential key). The records it wrote are kept, and so are its virtualenv and
    source, from which every host's shipper runs (salt/logship; its clean.sls removes them). #}
{%- from "salt/logserver/map.jinja" import logserver with context %}
{%- from "salt/supervisor/program.jinja" import supervisor_program_absent with context %}
{%- from "salt/common/consul.jinja" import consul_service_absent with context %}
{{ consul_service_absent("logserver", "logging", {"file": "raycrafter-logserver-supervisor-program-file-absent"}) }}
{{ supervisor_program_absent("raycrafter-logserver") }}
{%- for path in (logserver.config_file.rsplit("/", 1)[0], "/usr/local/sbin/raycrafter-logs") %}

logserver-clean-{{ loop.index }}-file-absent:
  file.absent:
    - name: {{ path }}
{%- endfor %}
