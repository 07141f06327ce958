{%- from "salt/siteagent/map.jinja" import siteagent with context %}
{%- from "salt/worker/map.jinja" import worker with context %}
{%- from "salt/supervisor/program.jinja" import supervisor_program with context %}
{%- from "salt/common/consul.jinja" import consul_service with context %}

include:
  - salt.supervisor
  - salt.siteagent.config
{{ supervisor_program("raycrafter-siteagent", "salt://salt/siteagent/files/raycrafter-siteagent.conf.jinja",
                      {"siteagent": siteagent, "user": worker.clusters[siteagent.cluster].user},
                      restart_on=[{"cmd": "siteagent-distribution-cmd-run"}, {"file": "siteagent-config-file-managed"},
                                  {"file": "siteagent-api-token-file-managed"}]) }}
{{ consul_service("siteagent", "siteagent", 0, {"cmd": "raycrafter-siteagent-supervisor-running-cmd-run"}, check=none) }}
