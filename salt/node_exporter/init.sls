{#- The node exporter: every host's own metrics (CPU, memory, disks, network) for the
    monitoring role's Prometheus. Under a salt master it answers over TLS with a copy of
    the host's certificate (salt/common/tls.jinja), which the postgres exporter of a db
    host shares; its port is the catalogue's. #}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/node_exporter/map.jinja" import node_exporter with context %}
{%- from "salt/common/tls.jinja" import service_tls_files with context %}
{%- set args = ["--web.listen-address=" ~ node_exporter.listen] %}
{%- for collector in node_exporter.disabled_collectors %}
{%-   do args.append("--no-collector." ~ collector) %}
{%- endfor %}
{%- if node_exporter.tls %}
{%-   do args.append("--web.config.file=" ~ node_exporter.web_config_file) %}
{%- endif %}

include:
  - salt.common

node-exporter-package-pkg-installed:
  pkg.installed:
    - name: prometheus-node-exporter
    - require:
      - cmd: common-package-lists-cmd-run
{%- if node_exporter.tls %}
{{ service_tls_files("node-exporter", node_exporter.tls_dir, "prometheus", "pkg: node-exporter-package-pkg-installed") }}

node-exporter-web-config-file-managed:
  file.managed:
    - name: {{ node_exporter.web_config_file }}
    - contents: |
        # File managed by Salt (salt/node_exporter). Edits are overwritten.
        # The exporters' TLS: this host's certificate, which Prometheus verifies against
        # the deployment CA by the host's name.
        tls_server_config:
          cert_file: {{ node_exporter.tls_dir }}/server.crt
          key_file: {{ node_exporter.tls_dir }}/server.key
          min_version: TLS12
    - mode: "0644"
    - require:
      - pkg: node-exporter-package-pkg-installed
{%- endif %}

node-exporter-defaults-file-managed:
  file.managed:
    - name: /etc/default/prometheus-node-exporter
    - contents: |
        # File managed by Salt (salt/node_exporter). Edits are overwritten.
        ARGS="{{ args | join(" ") }}"
    - mode: "0644"
    - require:
      - pkg: node-exporter-package-pkg-installed

node-exporter-service-running:
  service.running:
    - name: prometheus-node-exporter
    - enable: {{ common.enable_services_at_boot | json }}
    - watch:
      - file: node-exporter-defaults-file-managed
{%- if node_exporter.tls %}
      - file: node-exporter-web-config-file-managed
      - file: node-exporter-tls-server.crt-file-managed
      - file: node-exporter-tls-server.key-file-managed
{%- endif %}
