include:
  - salt.nginx.package
  - salt.nginx.certificate
  - salt.nginx.config
  - salt.nginx.service
