{%- from "salt/common/map.jinja" import common with context %}

include:
  - salt.mta.config

mta-service-running:
  service.running:
    - name: exim4
    - enable: {{ common.enable_services_at_boot | json }}
    - watch:
      - cmd: mta-config-cmd-run
