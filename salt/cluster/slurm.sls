{%- from "salt/common/map.jinja" import common with context %}
# A single-node Slurm with accounting (salt/cluster/accounting.sls) and the PBS/Torque
# wrappers (qsub, qstat, qdel).
{%- from "salt/cluster/map.jinja" import cluster with context %}

include:
  - salt.cluster.account
  - salt.cluster.munge
  - salt.cluster.accounting

cluster-slurm-packages-pkg-installed:
  pkg.installed:
    - pkgs:
      - slurmctld
      - slurmd
      - slurm-client
      - slurm-wlm-torque

cluster-slurm-spool-directories-file-directory:
  file.directory:
    - names:
      - /var/spool/slurmctld:
        - user: slurm
      - /var/spool/slurmd:
        - user: root
    - mode: "0755"
    - require:
      - pkg: cluster-slurm-packages-pkg-installed

cluster-slurm-config-file-managed:
  file.managed:
    - name: /etc/slurm/slurm.conf
    - source: salt://salt/cluster/files/slurm.conf.jinja
    - template: jinja
    - context:
        cluster: {{ cluster | json }}
    - mode: "0644"
    - require:
      - pkg: cluster-slurm-packages-pkg-installed

# The host's name is not the node's name, so slurmd is told which node it is.
cluster-slurmd-defaults-file-managed:
  file.managed:
    - name: /etc/default/slurmd
    - contents: |
        # File managed by Salt (salt/cluster/slurm.sls). Edits are overwritten.
        SLURMD_OPTIONS="-N localhost"
    - mode: "0644"
    - require:
      - pkg: cluster-slurm-packages-pkg-installed

# slurmdbd answers sacctmgr (which reads slurm.conf to find it) once it has made its
# tables: slurmctld registers the cluster with it at start.
cluster-slurmdbd-answers-cmd-run:
  cmd.run:
    - name: for attempt in $(seq 60); do sacctmgr -n list cluster >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1
    - unless: sacctmgr -n list cluster >/dev/null 2>&1
    - require:
      - service: cluster-slurmdbd-service-running
      - file: cluster-slurm-config-file-managed

cluster-slurmctld-service-running:
  service.running:
    - name: slurmctld
    - enable: {{ common.enable_services_at_boot | json }}
    - require:
      - sls: salt.cluster.munge
      - cmd: cluster-slurmdbd-answers-cmd-run
      - file: cluster-slurm-spool-directories-file-directory
    - watch:
      - file: cluster-slurm-config-file-managed

cluster-slurmd-service-running:
  service.running:
    - name: slurmd
    - enable: {{ common.enable_services_at_boot | json }}
    - require:
      - service: cluster-slurmctld-service-running
    - watch:
      - file: cluster-slurm-config-file-managed
      - file: cluster-slurmd-defaults-file-managed

# A node left DOWN by an earlier unclean stop takes no jobs until it is resumed.
cluster-slurm-node-resumed-cmd-run:
  cmd.run:
    - name: scontrol update NodeName=localhost State=RESUME
    - onlyif: sinfo --noheader --nodes=localhost --format=%t | grep -Eq '^(down|drain)'
    - require:
      - service: cluster-slurmd-service-running

# slurmctld restarts when slurm.conf changes; one that kept an older configuration (a
# run that failed before it could restart it) is restarted once it is seen to run
# without accounting.
cluster-slurmctld-accounting-cmd-run:
  cmd.run:
    - name: service slurmctld restart
    - unless: scontrol show config | grep -Eq '^AccountingStorageType +=.*slurmdbd'
    - require:
      - service: cluster-slurmctld-service-running

# slurmctld registers its cluster with slurmdbd when it starts; said here too, so that
# the account below never waits on it.
cluster-slurm-cluster-registered-cmd-run:
  cmd.run:
    # A slurmctld that has just started may register it first: then it is there.
    - name: sacctmgr -i add cluster {{ cluster.slurm.cluster_name }} || sacctmgr -n -P list cluster format=cluster | grep -qx {{ cluster.slurm.cluster_name }}
    - unless: sacctmgr -n -P list cluster format=cluster | grep -qx {{ cluster.slurm.cluster_name }}
    - require:
      - cmd: cluster-slurmctld-accounting-cmd-run

# The cluster user's jobs are charged to an account of their own, so that limits and
# QOS (which apply to associations) can be set for them.
cluster-slurm-account-cmd-run:
  cmd.run:
    - name: sacctmgr -i add account {{ cluster.slurm.accounting.account }} Cluster={{ cluster.slurm.cluster_name }} Description="Raycrafter renders" Organization=raycrafter
    - unless: sacctmgr -n -P list account {{ cluster.slurm.accounting.account }} format=account | grep -qx {{ cluster.slurm.accounting.account }}
    - require:
      - cmd: cluster-slurm-cluster-registered-cmd-run

cluster-slurm-user-association-cmd-run:
  cmd.run:
    - name: sacctmgr -i add user {{ cluster.user }} Account={{ cluster.slurm.accounting.account }} Cluster={{ cluster.slurm.cluster_name }}
    - unless: sacctmgr -n -P list association user={{ cluster.user }} cluster={{ cluster.slurm.cluster_name }} format=user | grep -qx {{ cluster.user }}
    - require:
      - cmd: cluster-slurm-account-cmd-run
      - user: cluster-user-present
