{#- The scheduled backup of the files (raycrafter-backup files), run by cron. #}
{%- from "salt/backup/map.jinja" import backup with context %}
{%- from "salt/common/map.jinja" import common with context %}

include:
  - salt.backup

backup-files-cron-file-managed:
  file.managed:
    - name: /etc/cron.d/raycrafter-backup-files
    - contents: |
        # File managed by Salt (salt/backup). Edits are overwritten.
        {{ backup.files_schedule }} root /usr/local/sbin/raycrafter-backup files >/dev/null 2>>{{ common.paths.log }}/backup.log
    - mode: "0644"
    - require:
      - file: backup-raycrafter-backup-file-managed
      - file: backup-directory-file-directory
