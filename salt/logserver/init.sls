# A GELF-over-TCP log server made of syslog-ng: a dedicated instance under Supervisor, so
# the host's own system logging is left alone.
{%- from "salt/logserver/map.jinja" import logserver with context %}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/supervisor/program.jinja" import supervisor_program with context %}
{%- from "salt/common/consul.jinja" import consul_service with context %}
{%- set config_file = common.paths.etc ~ "/logserver/syslog-ng.conf" %}

include:
  - salt.common
  - salt.supervisor

logserver-package-pkg-installed:
  pkg.installed:
    - name: syslog-ng-core

logserver-state-directory-file-directory:
  file.directory:
    - names:
      - {{ common.paths.data }}/logserver
      - {{ logserver.records_file.rsplit("/", 1)[0] }}
    - mode: "0750"
    - makedirs: True

logserver-config-file-managed:
  file.managed:
    - name: {{ config_file }}
    - source: salt://salt/logserver/files/syslog-ng.conf.jinja
    - template: jinja
    - context:
        logserver: {{ logserver | json }}
        tls_files: {{ (common.tls if common.tls.enabled else none) | json }}
    - makedirs: True
    - mode: "0644"
    - check_cmd: syslog-ng --syntax-only -f
    - require:
      - pkg: logserver-package-pkg-installed
{%- if common.tls.enabled %}
      - file: common-tls-key-file-managed
      - file: common-tls-certificate-file-managed
{%- endif %}
{{ supervisor_program("raycrafter-logserver", "salt://salt/logserver/files/raycrafter-logserver.conf.jinja",
                      {"config_file": config_file, "state_dir": common.paths.data ~ "/logserver"},
                      restart_on=[{"file": "logserver-config-file-managed"}]
                               + ([{"file": "common-tls-certificate-file-managed"}] if common.tls.enabled else [])) }}
{{ consul_service("logserver", "logging", logserver.port, {"cmd": "raycrafter-logserver-supervisor-running-cmd-run"}) }}
