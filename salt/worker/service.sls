{%- from "salt/worker/map.jinja" import worker with context %}
{%- from "salt/supervisor/program.jinja" import supervisor_program with context %}
{%- from "salt/common/consul.jinja" import consul_service with context %}

include:
  - salt.supervisor
  - salt.worker.config
{{ supervisor_program("raycrafter-worker", "salt://salt/worker/files/raycrafter-worker.conf.jinja", {"worker": worker},
                      restart_on=[{"cmd": "worker-distribution-cmd-run"}, {"file": "worker-config-file-managed"}]) }}
{{ consul_service("worker", "worker", 0, {"cmd": "raycrafter-worker-supervisor-running-cmd-run"}, check=none) }}
