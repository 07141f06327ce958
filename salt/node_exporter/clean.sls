{#- The node exporter taken off this host. #}
{%- from "salt/node_exporter/map.jinja" import node_exporter with context %}

node-exporter-service-dead:
  service.dead:
    - name: prometheus-node-exporter

node-exporter-package-pkg-removed:
  pkg.removed:
    - name: prometheus-node-exporter
    - require:
      - service: node-exporter-service-dead

node-exporter-configuration-file-absent:
  file.absent:
    - names:
      - {{ node_exporter.web_config_file }}
      - {{ node_exporter.tls_dir }}
