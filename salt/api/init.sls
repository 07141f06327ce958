include:
  - salt.api.install
  - salt.api.config
  - salt.api.database
  - salt.api.service
