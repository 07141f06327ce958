{#- The appliance's site removed from nginx, which keeps running for anything else. #}
{%- from "salt/common/consul.jinja" import consul_service_absent with context %}
{{ consul_service_absent("nginx", "web", {"file": "nginx-raycrafter-site-file-absent"}) }}

nginx-raycrafter-site-file-absent:
  file.absent:
    - name: /etc/nginx/sites-enabled/raycrafter.conf

nginx-clean-reload-cmd-run:
  cmd.run:
    - name: service nginx reload
    - onchanges:
      - file: nginx-raycrafter-site-file-absent
