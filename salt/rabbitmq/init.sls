include:
  - salt.rabbitmq.package
  - salt.rabbitmq.config
  - salt.rabbitmq.service
  - salt.rabbitmq.users
