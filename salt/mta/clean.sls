{#- The MTA stopped and its package removed; its queue and logs stay for the operator. #}
mta-service-dead:
  service.dead:
    - name: exim4

mta-package-pkg-removed:
  pkg.removed:
    - name: exim4-daemon-light
    - require:
      - service: mta-service-dead
