{%- from "salt/nginx/map.jinja" import nginx with context %}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/common/consul.jinja" import consul_service with context %}
{%- from "salt/common/pid_file.jinja" import stale_pid_file_absent %}

include:
  - salt.nginx.certificate
  - salt.nginx.config

nginx-config-test-cmd-run:
  cmd.run:
    - name: nginx -t -q
    - onchanges:
      - sls: salt.nginx.config

{{ stale_pid_file_absent("nginx-stale-pid-file-absent", "/run/nginx.pid", "nginx") }}

nginx-service-running:
  service.running:
    - name: nginx
    - enable: {{ common.enable_services_at_boot | json }}
    - reload: True
    - require:
      - cmd: nginx-config-test-cmd-run
      - cmd: nginx-stale-pid-file-absent
    - watch:
      - sls: salt.nginx.certificate
      - sls: salt.nginx.config
# The API as the others reach it: through nginx, checked end to end by its health route.
{{ consul_service("nginx", "web", nginx.https_port, {"service": "nginx-service-running"}, check="/api/v1/health") }}
