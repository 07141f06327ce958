{#- What both kinds of backup share: the commands (raycrafter-backup, raycrafter-restore),
    their settings, the backup directory (root only) and cron, which runs them on the
    schedules database.sls and files.sls set. #}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/backup/map.jinja" import backup with context %}
{%- from "salt/postgres/map.jinja" import postgres with context %}
{%- from "salt/api/map.jinja" import api with context %}
{%- from "salt/common/pid_file.jinja" import stale_pid_file_absent %}

backup-packages-pkg-installed:
  pkg.installed:
    - pkgs:
      - cron
      - rsync

backup-directory-file-directory:
  file.directory:
    - name: {{ backup.directory }}
    - user: root
    - group: root
    - mode: "0700"
    - makedirs: True

backup-settings-file-managed:
  file.managed:
    - name: {{ common.paths.etc }}/backup.conf
    - contents: |
        # File managed by Salt (salt/backup). Edits are overwritten.
        BACKUP_DIR={{ backup.directory }}
        KEEP={{ backup.keep }}
        DATABASE={{ postgres.database }}
        DATABASE_PORT={{ postgres.port }}
        DATABASE_OWNER={{ postgres.user }}
        DATA_DIR={{ api.data_dir }}
        DATA_OWNER={{ api.user }}
    - mode: "0644"
{%- for command in ("raycrafter-backup", "raycrafter-restore") %}

backup-{{ command }}-file-managed:
  file.managed:
    - name: /usr/local/sbin/{{ command }}
    - source: salt://salt/backup/files/{{ command }}
    - mode: "0755"
{%- endfor %}

{{ stale_pid_file_absent("backup-cron-stale-pid-file-absent", "/run/crond.pid", "cron") }}

backup-cron-service-running:
  service.running:
    - name: cron
    - enable: {{ common.enable_services_at_boot | json }}
    - require:
      - cmd: backup-cron-stale-pid-file-absent
      - pkg: backup-packages-pkg-installed
