{#- The log server removed from this host: its program, virtualenv, source and
    configuration (which holds the credential key). The records it wrote are kept. #}
{%- from "salt/logserver/map.jinja" import logserver with context %}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/supervisor/program.jinja" import supervisor_program_absent with context %}
{%- from "salt/common/consul.jinja" import consul_service_absent with context %}
{{ consul_service_absent("logserver", "logging", {"file": "raycrafter-logserver-supervisor-program-file-absent"}) }}
{{ supervisor_program_absent("raycrafter-logserver") }}
{%- for path in (logserver.venv, common.paths.opt ~ "/src/logserver", logserver.config_file.rsplit("/", 1)[0],
                 "/usr/local/sbin/raycrafter-logs") %}

logserver-clean-{{ loop.index }}-file-absent:
  file.absent:
    - name: {{ path }}
{%- endfor %}
