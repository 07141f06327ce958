{#- rabbitmq stopped on this host. Its data (the appliance's database or queues) is kept,
    so a later highstate brings the appliance back as it was. #}

rabbitmq-service-dead:
  service.dead:
    - name: rabbitmq-server
