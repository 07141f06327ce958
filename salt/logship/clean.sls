{#- The shipper removed from this host: its program, its configuration (which holds the
    host's log credential) and where it had read up to; with it the log server's
    virtualenv and source it ran from, unless this host keeps the logging role. #}
{%- from "salt/logship/map.jinja" import logship with context %}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/supervisor/program.jinja" import supervisor_program_absent with context %}
{{ supervisor_program_absent("raycrafter-logship") }}
{%- set paths = [logship.config_file.rsplit("/", 1)[0], logship.state_file.rsplit("/", 1)[0]] %}
{%- if "logging" not in common.roles %}
{%-   do paths.extend([logship.venv, common.paths.opt ~ "/src/logserver"]) %}
{%- endif %}
{%- for path in paths %}

logship-clean-{{ loop.index }}-file-absent:
  file.absent:
    - name: {{ path }}
{%- endfor %}
