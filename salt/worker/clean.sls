{#- The worker removed from this host: its programs, virtualenv, source, configuration and
    cluster keys, and the ssh configuration that reaches the clusters. #}
{%- from "salt/worker/map.jinja" import worker with context %}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/supervisor/program.jinja" import supervisor_program_absent with context %}
{%- from "salt/common/consul.jinja" import consul_service_absent with context %}
{{ supervisor_program_absent("raycrafter-worker") }}
{{ consul_service_absent("worker", "worker") }}
{%- set paths = [worker.venv, common.paths.opt ~ "/src/worker", worker.config_dir] %}
{%- for name in worker.clusters %}
{%-   do paths.append("/etc/ssh/ssh_config.d/raycrafter-" ~ name ~ ".conf") %}
{%- endfor %}
{%- for path in paths %}

worker-clean-{{ loop.index }}-file-absent:
  file.absent:
    - name: {{ path }}
{%- endfor %}
