# The API's TLS certificate: the site's own from pillar; under a salt master this host's,
# from the deployment CA (pillar/tls.sls); else a self-signed one generated here once.
{%- from "salt/nginx/map.jinja" import nginx with context %}
{%- from "salt/common/map.jinja" import common with context %}
{%- set names = nginx.server_names %}

nginx-tls-directory-file-directory:
  file.directory:
    - name: {{ nginx.certificate_file.rsplit("/", 1)[0] }}
    - mode: "0755"
    - makedirs: True

{%- if nginx.tls_certificate or nginx.deployment_certificate %}
{#-   A site's own certificate, or under a salt master this host's from the deployment CA. #}
{%-   set pillar_keys = ("raycrafter:nginx:tls_certificate", "raycrafter:nginx:tls_key") if nginx.tls_certificate else ("raycrafter_tls:certificate", "raycrafter_tls:private_key") %}

nginx-tls-certificate-file-managed:
  file.managed:
    - name: {{ nginx.certificate_file }}
    - contents_pillar: {{ pillar_keys[0] }}
    - mode: "0644"

nginx-tls-key-file-managed:
  file.managed:
    - name: {{ nginx.key_file }}
    - contents_pillar: {{ pillar_keys[1] }}
    - mode: "0600"
    - show_changes: False
{%- else %}

nginx-tls-self-signed-certificate-cmd-run:
  cmd.run:
    - name: >-
        openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days 3650
        -subj "/CN={{ names[0] }}"
        -addext "subjectAltName={% for name in names %}DNS:{{ name }},{% endfor %}IP:127.0.0.1"
        -addext "basicConstraints=critical,CA:TRUE"
        -keyout {{ nginx.key_file }} -out {{ nginx.certificate_file }}
        && chmod 0600 {{ nginx.key_file }} && chmod 0644 {{ nginx.certificate_file }}
    - creates: {{ nginx.certificate_file }}
    - umask: "077"
    - require:
      - file: nginx-tls-directory-file-directory
{%- endif %}
