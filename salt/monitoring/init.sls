{#- The monitoring role: Prometheus scraping every service of the catalogue with `scrape`
    (salt/monitoring/map.jinja), evaluating the alert rules, and Alertmanager telling the
    operator. Both run as the user `prometheus` and, under a salt master, answer over TLS
    with the exporters' copy of this host's certificate (salt/node_exporter). #}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/monitoring/map.jinja" import monitoring with context %}
{%- from "salt/common/consul.jinja" import consul_service with context %}
{%- set web = ["--web.config.file=" ~ monitoring.web_config_file] if monitoring.tls else [] %}

include:
  - salt.node_exporter

monitoring-packages-pkg-installed:
  pkg.installed:
    - pkgs:
      - prometheus
      - prometheus-alertmanager

monitoring-rules-directory-file-directory:
  file.directory:
    - name: {{ common.paths.etc }}/monitoring
    - user: root
    - group: root
    - mode: "0755"
{%- for name in ("raycrafter.rules.yml", "rabbitmq.rules.yml") %}

monitoring-{{ name }}-file-managed:
  file.managed:
    - name: {{ common.paths.etc }}/monitoring/{{ name }}
    - source: salt://salt/monitoring/files/{{ name }}
    - mode: "0644"
    - check_cmd: promtool check rules
    - require:
      - file: monitoring-rules-directory-file-directory
      - pkg: monitoring-packages-pkg-installed
{%- endfor %}

monitoring-prometheus-config-file-managed:
  file.managed:
    - name: /etc/prometheus/prometheus.yml
    - source: salt://salt/monitoring/files/prometheus.yml.jinja
    - template: jinja
    - context:
        monitoring: {{ monitoring | json }}
    - mode: "0644"
    - check_cmd: promtool check config --syntax-only
    - require:
      - pkg: monitoring-packages-pkg-installed

monitoring-prometheus-defaults-file-managed:
  file.managed:
    - name: /etc/default/prometheus
    - contents: |
        # File managed by Salt (salt/monitoring). Edits are overwritten.
        ARGS="{{ (["--web.listen-address=" ~ monitoring.listen_prefix ~ ":" ~ monitoring.prometheus_port,
                   "--storage.tsdb.retention.time=" ~ monitoring.retention_time,
                   "--storage.tsdb.retention.size=" ~ monitoring.retention_size] + web) | join(" ") }}"
    - mode: "0644"
    - require:
      - pkg: monitoring-packages-pkg-installed

monitoring-prometheus-service-running:
  service.running:
    - name: prometheus
    - enable: {{ common.enable_services_at_boot | json }}
    - watch:
      - file: monitoring-prometheus-config-file-managed
      - file: monitoring-prometheus-defaults-file-managed
      - file: monitoring-raycrafter.rules.yml-file-managed
      - file: monitoring-rabbitmq.rules.yml-file-managed
{%- if monitoring.tls %}
      - file: node-exporter-web-config-file-managed
{%- endif %}

{#- Where the API finds the Prometheus its page of the appliance's health asks. #}
{{ consul_service("monitoring", "monitoring", monitoring.prometheus_port, {"service": "monitoring-prometheus-service-running"}) }}

monitoring-alertmanager-config-file-managed:
  file.managed:
    - name: /etc/prometheus/alertmanager.yml
    - source: salt://salt/monitoring/files/alertmanager.yml.jinja
    - template: jinja
    - context:
        monitoring: {{ monitoring | json }}
    - mode: "0644"
    - check_cmd: amtool check-config
    - require:
      - pkg: monitoring-packages-pkg-installed

# One Alertmanager: no cluster port.
monitoring-alertmanager-defaults-file-managed:
  file.managed:
    - name: /etc/default/prometheus-alertmanager
    - contents: |
        # File managed by Salt (salt/monitoring). Edits are overwritten.
        ARGS="{{ (["--web.listen-address=" ~ monitoring.listen_prefix ~ ":" ~ monitoring.alertmanager_port,
                   "--cluster.listen-address="] + web) | join(" ") }}"
    - mode: "0644"
    - require:
      - pkg: monitoring-packages-pkg-installed

monitoring-alertmanager-service-running:
  service.running:
    - name: prometheus-alertmanager
    - enable: {{ common.enable_services_at_boot | json }}
    - watch:
      - file: monitoring-alertmanager-config-file-managed
      - file: monitoring-alertmanager-defaults-file-managed
