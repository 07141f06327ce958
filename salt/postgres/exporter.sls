{#- PostgreSQL's metrics for the monitoring role: Debian's postgres exporter, logging in
    over the local socket as the role `prometheus`, which the OS user it runs as is by
    peer authentication (pg_hba.conf's `local all all peer`): it holds pg_monitor and no
    password exists. Under a salt master it answers over TLS with the exporters' copy of
    the host's certificate (salt/node_exporter). #}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/postgres/map.jinja" import postgres with context %}
{%- from "salt/node_exporter/map.jinja" import node_exporter with context %}
{%- set args = ["--web.listen-address=" ~ (":" if node_exporter.tls else "127.0.0.1:") ~ postgres.metrics_port] %}
{%- if node_exporter.tls %}
{%-   do args.append("--web.config.file=" ~ node_exporter.web_config_file) %}
{%- endif %}

include:
  - salt.postgres.service
  - salt.node_exporter

# Its init script starts it with `daemon`, which the package only recommends when
# systemd-sysv is there (as it is where Salt runs without systemd).
postgres-exporter-package-pkg-installed:
  pkg.installed:
    - pkgs:
      - prometheus-postgres-exporter
      - daemon

postgres-exporter-role-postgres-user-present:
  postgres_user.present:
    - name: prometheus
    - login: True
    - groups: pg_monitor
    - db_port: {{ postgres.port }}
    - require:
      - service: postgres-service-running

postgres-exporter-defaults-file-managed:
  file.managed:
    - name: /etc/default/prometheus-postgres-exporter
    - contents: |
        # File managed by Salt (salt/postgres/exporter.sls). Edits are overwritten.
        # Exported: the init script hands its environment to the exporter.
        export DATA_SOURCE_NAME="host=/var/run/postgresql port={{ postgres.port }} user=prometheus dbname=postgres sslmode=disable"
        ARGS="{{ args | join(" ") }}"
    - mode: "0644"
    - require:
      - pkg: postgres-exporter-package-pkg-installed

postgres-exporter-service-running:
  service.running:
    - name: prometheus-postgres-exporter
    - enable: {{ common.enable_services_at_boot | json }}
    - require:
      - postgres_user: postgres-exporter-role-postgres-user-present
    - watch:
      - file: postgres-exporter-defaults-file-managed
{%- if node_exporter.tls %}
      - file: node-exporter-web-config-file-managed
      - file: node-exporter-tls-server.key-file-managed
{%- endif %}
