{%- from "salt/common/map.jinja" import common with context %}

include:
  - salt.nginx.certificate
  - salt.nginx.config

nginx-config-test-cmd-run:
  cmd.run:
    - name: nginx -t -q
    - onchanges:
      - sls: salt.nginx.config

nginx-service-running:
  service.running:
    - name: nginx
    - enable: {{ common.enable_services_at_boot | json }}
    - reload: True
    - require:
      - cmd: nginx-config-test-cmd-run
    - watch:
      - sls: salt.nginx.certificate
      - sls: salt.nginx.config
