{#- The stand-in cluster's daemons stopped and its batch-system fronts removed on this host;
    the scratch directory with the jobs' frames and the cluster account are kept. #}
{%- from "salt/common/consul.jinja" import consul_service_absent with context %}
{%- from "salt/cluster/map.jinja" import cluster with context %}
{{ consul_service_absent("cluster-sshd", "cluster") }}
{%- for service in ("slurmd", "slurmctld", "globus-gridftp-sshftp", "munge") %}

cluster-{{ service }}-service-dead:
  service.dead:
    - name: {{ service }}
{%- endfor %}


cluster-fronts-directory-file-absent:
  file.absent:
    - name: {{ cluster.fronts }}
