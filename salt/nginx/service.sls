{%- from "salt/nginx/map.jinja" import nginx with context %}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/common/consul.jinja" import consul_service with context %}

include:
  - salt.nginx.certificate
  - salt.nginx.config

nginx-config-test-cmd-run:
  cmd.run:
    - name: nginx -t -q
    - onchanges:
      - sls: salt.nginx.config

# Debian's init script calls nginx running when any process has the pid in its pid file.
# After nginx dies without removing the file, that pid can be reused (it was by exim4 here)
# and Salt would never start nginx again: a pid file that is not nginx's goes first.
nginx-stale-pid-file-absent:
  cmd.run:
    - name: rm -f {{ nginx.pid_file }}
    - onlyif: test -s {{ nginx.pid_file }} && ! ps -p "$(cat {{ nginx.pid_file }})" -o comm= | grep -qx nginx

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
