{#- Test equipment: commands that make the stand-in's Slurm answer as PBS Professional,
    Torque and Cray's aprun answer on real sites, so that the worker's schedulers and
    launchers for those systems run here against live jobs (docs/sites.md, "The stand-in
    cluster"). Each system's commands sit in a bin/ of their own and are all links to one
    launcher; Slurm's own commands and its PBS wrappers in /usr/bin stay as they are. #}
{%- from "salt/cluster/map.jinja" import cluster with context %}
{%- set commands = {"pbspro": ["qsub", "qstat", "qdel"],
                    "torque": ["qsub", "qstat", "qdel"],
                    "alps": ["aprun"]} %}

include:
  - salt.cluster.slurm

cluster-fronts-modules-file-recurse:
  file.recurse:
    - name: {{ cluster.fronts }}/lib/standin_fronts
    - source: salt://salt/cluster/files/fronts/standin_fronts
    - clean: True
    - exclude_pat: E@(__pycache__|\.pyc$)
    - file_mode: "0644"
    - dir_mode: "0755"
    - makedirs: True

cluster-fronts-launcher-file-managed:
  file.managed:
    - name: {{ cluster.fronts }}/lib/front
    - source: salt://salt/cluster/files/fronts/front
    - mode: "0755"
    - require:
      - file: cluster-fronts-modules-file-recurse
{%- for system, names in commands.items() %}
{%- for name in names %}

cluster-fronts-{{ system }}-{{ name }}-file-symlink:
  file.symlink:
    - name: {{ cluster.fronts }}/{{ system }}/bin/{{ name }}
    - target: ../../lib/front
    - makedirs: True
    - require:
      - file: cluster-fronts-launcher-file-managed
      - sls: salt.cluster.slurm
{%- endfor %}
{%- endfor %}
