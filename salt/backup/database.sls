{#- The scheduled backup of the database (raycrafter-backup database), run by cron. #}
{%- from "salt/backup/map.jinja" import backup with context %}
{%- from "salt/common/map.jinja" import common with context %}

include:
  - salt.backup

backup-database-cron-file-managed:
  file.managed:
    - name: /etc/cron.d/raycrafter-backup-database
    - contents: |
        # File managed by Salt (salt/backup). Edits are overwritten.
        {{ backup.database_schedule }} root /usr/local/sbin/raycrafter-backup database >/dev/null 2>>{{ common.paths.log }}/backup.log
    - mode: "0644"
    - require:
      - file: backup-raycrafter-backup-file-managed
      - file: backup-directory-file-directory
