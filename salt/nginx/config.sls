{%- from "salt/nginx/map.jinja" import nginx with context %}

include:
  - salt.nginx.package
  - salt.nginx.certificate

# The Debian default site also binds port 80.
nginx-default-site-file-absent:
  file.absent:
    - name: /etc/nginx/sites-enabled/default
    - require:
      - sls: salt.nginx.package

nginx-raycrafter-site-file-managed:
  file.managed:
    - name: /etc/nginx/sites-enabled/raycrafter.conf
    - source: salt://salt/nginx/files/raycrafter.conf.jinja
    - template: jinja
    - context:
        nginx: {{ nginx | json }}
    - mode: "0644"
    - require:
      - sls: salt.nginx.package
      - sls: salt.nginx.certificate
