{%- from "salt/api/map.jinja" import api with context %}
{%- from "salt/supervisor/program.jinja" import supervisor_program with context %}

include:
  - salt.supervisor
  - salt.api.database
{%- for program in ("raycrafter-api", "raycrafter-relay", "raycrafter-notifier") %}
{{ supervisor_program(program, "salt://salt/api/files/" ~ program ~ ".conf.jinja", {"api": api},
                      restart_on=[{"cmd": "api-distribution-cmd-run"}, {"file": "api-config-file-managed"}]) }}
{%- endfor %}
