{#- The monitoring role taken off this host; its metrics (/var/lib/prometheus) are kept. #}
{%- from "salt/common/map.jinja" import common with context %}
{%- for service in ("prometheus", "prometheus-alertmanager") %}

monitoring-{{ service }}-service-dead:
  service.dead:
    - name: {{ service }}
{%- endfor %}

monitoring-rules-directory-file-absent:
  file.absent:
    - name: {{ common.paths.etc }}/monitoring
