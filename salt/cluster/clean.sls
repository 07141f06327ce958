{#- The stand-in cluster's daemons stopped on this host; the scratch directory with the
    jobs' frames and the cluster account are kept. #}
{%- from "salt/common/consul.jinja" import consul_service_absent with context %}
{{ consul_service_absent("cluster-sshd", "cluster") }}
{%- for service in ("slurmd", "slurmctld", "globus-gridftp-sshftp", "munge") %}

cluster-{{ service }}-service-dead:
  service.dead:
    - name: {{ service }}
{%- endfor %}
