{#- Slurm's accounting on the stand-in cluster: slurmdbd over MariaDB on this host, so that
    sacct answers for batch jobs that left the queue (why they ended: TIMEOUT, NODE_FAIL,
    CANCELLED, OUT_OF_MEMORY, exit codes), as on a real site, and QOS limits can be set
    and enforced (docs/sites.md). MariaDB listens on its socket only, and slurmdbd logs
    in to it as the OS user it runs as (unix_socket authentication): no password exists
    to be kept. #}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/cluster/map.jinja" import cluster with context %}
{%- set accounting = cluster.slurm.accounting %}

include:
  - salt.cluster.munge

cluster-accounting-packages-pkg-installed:
  pkg.installed:
    - pkgs:
      - mariadb-server
      - slurmdbd

cluster-mariadb-config-file-managed:
  file.managed:
    - name: /etc/mysql/mariadb.conf.d/60-raycrafter.cnf
    - contents: |
        # File managed by Salt (salt/cluster/accounting.sls). Edits are overwritten.
        # slurmdbd is the only client, on this host: no TCP at all.
        [mysqld]
        skip-networking
        # Slurm's accounting guide asks for a long lock wait (rollups hold locks long).
        # It also asks for a large buffer pool, which slurmdbd logs an error about: the
        # stand-in's few jobs need none, and its host is small.
        innodb_buffer_pool_size = 128M
        innodb_lock_wait_timeout = 900
    - mode: "0644"
    - require:
      - pkg: cluster-accounting-packages-pkg-installed

cluster-mariadb-service-running:
  service.running:
    - name: mariadb
    - enable: {{ common.enable_services_at_boot | json }}
    - watch:
      - file: cluster-mariadb-config-file-managed

cluster-accounting-database-cmd-run:
  cmd.run:
    - name: mariadb --batch
    - stdin: |
        CREATE DATABASE IF NOT EXISTS {{ accounting.database }};
        CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED VIA unix_socket;
        GRANT ALL ON {{ accounting.database }}.* TO 'slurm'@'localhost';
    - unless: runuser -u slurm -- mariadb --batch -e 'SELECT 1' {{ accounting.database }}
    - require:
      - service: cluster-mariadb-service-running

cluster-slurmdbd-config-file-managed:
  file.managed:
    - name: /etc/slurm/slurmdbd.conf
    - contents: |
        # File managed by Salt (salt/cluster/accounting.sls). Edits are overwritten.
        AuthType=auth/munge
        DbdHost=localhost
        DbdAddr=127.0.0.1
        SlurmUser=slurm
        StorageType=accounting_storage/mysql
        StorageHost=localhost
        StorageLoc={{ accounting.database }}
        StorageUser=slurm
        LogFile=/var/log/slurm/slurmdbd.log
        PidFile=/run/slurmdbd.pid
    # slurmdbd refuses a configuration others may read.
    - user: slurm
    - group: slurm
    - mode: "0600"
    - require:
      - pkg: cluster-accounting-packages-pkg-installed

cluster-slurmdbd-service-running:
  service.running:
    - name: slurmdbd
    - enable: {{ common.enable_services_at_boot | json }}
    - require:
      - cmd: cluster-accounting-database-cmd-run
      - sls: salt.cluster.munge
    - watch:
      - file: cluster-slurmdbd-config-file-managed
