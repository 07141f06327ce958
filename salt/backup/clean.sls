{#- The scheduled backups stopped on this host; the backups made are kept. #}
backup-cron-files-file-absent:
  file.absent:
    - names:
      - /etc/cron.d/raycrafter-backup-database
      - /etc/cron.d/raycrafter-backup-files
      - /usr/local/sbin/raycrafter-backup
      - /usr/local/sbin/raycrafter-restore
