include:
  - salt.mta.package
  - salt.mta.config
  - salt.mta.service
