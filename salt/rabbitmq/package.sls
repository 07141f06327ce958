rabbitmq-package-pkg-installed:
  pkg.installed:
    - name: rabbitmq-server
