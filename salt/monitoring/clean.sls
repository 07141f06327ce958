{#- The monitoring role taken off this host; its metrics (/var/lib/prometheus) are kept. #}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/common/consul.jinja" import consul_service_absent with context %}
{{ consul_service_absent("monitoring", "monitoring", {"service": "monitoring-prometheus-service-dead"}) }}
{%- for service in ("prometheus", "prometheus-alertmanager") %}

monitoring-{{ service }}-service-dead:
  service.dead:
    - name: {{ service }}
{%- endfor %}

monitoring-rules-directory-file-absent:
  file.absent:
    - name: {{ common.paths.etc }}/monitoring
