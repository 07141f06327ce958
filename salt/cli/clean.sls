{#- The user CLI removed from this host: its command, virtualenv, source and root's
    settings. #}
{%- from "salt/cli/map.jinja" import cli with context %}
{%- from "salt/common/map.jinja" import common with context %}
{%- for path in ("/usr/local/bin/raycrafter", cli.venv, common.paths.opt ~ "/src/cli",
                 "/root/.config/raycrafter/client.toml") %}

cli-clean-{{ loop.index }}-file-absent:
  file.absent:
    - name: {{ path }}
{%- endfor %}
