# The cluster user the worker logs in as, and the scratch directory its jobs use.
{%- from "salt/cluster/map.jinja" import cluster with context %}

cluster-user-group-present:
  group.present:
    - name: {{ cluster.user }}
    - system: True

cluster-user-present:
  user.present:
    - name: {{ cluster.user }}
    - home: {{ cluster.home }}
    - createhome: True
    - shell: /bin/bash
    - gid: {{ cluster.user }}
    - system: True
    - require:
      - group: cluster-user-group-present

cluster-scratch-directory-file-directory:
  file.directory:
    - name: {{ cluster.scratch }}
    - user: {{ cluster.user }}
    - group: {{ cluster.user }}
    - mode: "0750"
    - makedirs: True
    - require:
      - user: cluster-user-present
