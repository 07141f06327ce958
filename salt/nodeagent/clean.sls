{#- The node agent removed from this cluster host: its virtualenv and source. #}
{%- from "salt/nodeagent/map.jinja" import nodeagent with context %}
{%- from "salt/common/map.jinja" import common with context %}
{%- for path in (nodeagent.venv, common.paths.opt ~ "/src/nodeagent") %}

nodeagent-clean-{{ loop.index }}-file-absent:
  file.absent:
    - name: {{ path }}
{%- endfor %}
