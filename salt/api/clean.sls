{#- The API removed from this host: its programs, virtualenv, source and configuration
    (which holds the database and broker passwords). Its data directory, the users' scenes
    and frames, is kept. #}
{%- from "salt/api/map.jinja" import api with context %}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/supervisor/program.jinja" import supervisor_program_absent with context %}
{{ supervisor_program_absent("raycrafter-api") }}
{{ supervisor_program_absent("raycrafter-relay") }}
{{ supervisor_program_absent("raycrafter-notifier") }}
{%- for path in (api.venv, common.paths.opt ~ "/src/api", api.config_file.rsplit("/", 1)[0],
                 "/usr/local/sbin/raycrafter-admin") %}

api-clean-{{ loop.index }}-file-absent:
  file.absent:
    - name: {{ path }}
{%- endfor %}
