{%- from "salt/logserver/map.jinja" import logserver with context %}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/supervisor/program.jinja" import supervisor_program with context %}
{%- from "salt/common/consul.jinja" import consul_service with context %}

include:
  - salt.supervisor
  - salt.logserver.config
{{ supervisor_program("raycrafter-logserver", "salt://salt/logserver/files/raycrafter-logserver.conf.jinja",
                      {"logserver": logserver},
                      restart_on=[{"cmd": "logserver-distribution-cmd-run"},
                                  {"file": "logserver-config-file-managed"}]
                               + ([{"file": "logserver-tls-server.crt-file-managed"},
                                   {"file": "logserver-tls-server.key-file-managed"}] if common.tls.enabled else [])) }}
{{ consul_service("logserver", "logging", logserver.port, {"cmd": "raycrafter-logserver-supervisor-running-cmd-run"}) }}
