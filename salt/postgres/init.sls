include:
  - salt.postgres.package
  - salt.postgres.config
  - salt.postgres.service
  - salt.postgres.database
  - salt.postgres.exporter
