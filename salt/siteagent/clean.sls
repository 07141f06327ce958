{#- The site agent removed from this host: its program, virtualenv, source and
    configuration. The cluster's account and its jobs on scratch are left alone. #}
{%- from "salt/siteagent/map.jinja" import siteagent with context %}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/supervisor/program.jinja" import supervisor_program_absent with context %}
{%- from "salt/common/consul.jinja" import consul_service_absent with context %}
{{ supervisor_program_absent("raycrafter-siteagent") }}
{{ consul_service_absent("siteagent", "siteagent") }}
{%- for path in (siteagent.venv, common.paths.opt ~ "/src/siteagent", siteagent.config_dir) %}

siteagent-clean-{{ loop.index }}-file-absent:
  file.absent:
    - name: {{ path }}
{%- endfor %}
