# Under a salt master: the deployment CA, which every client of another host verifies
# against, and this host's certificate and key for the services it serves (each service's
# state copies the key to where its daemon may read it).
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/common/map.jinja" import secrets with context %}
{%- if common.tls.enabled %}

common-tls-directory-file-directory:
  file.directory:
    - name: {{ common.tls.ca_file.rsplit("/", 1)[0] }}
    - user: root
    - group: root
    - mode: "0755"
    - makedirs: True

common-tls-ca-file-managed:
  file.managed:
    - name: {{ common.tls.ca_file }}
    - contents: {{ secrets.tls_ca_certificate | json }}
    - mode: "0644"
    - require:
      - file: common-tls-directory-file-directory

common-tls-certificate-file-managed:
  file.managed:
    - name: {{ common.tls.certificate_file }}
    - contents_pillar: raycrafter_tls:certificate
    - mode: "0644"
    - require:
      - file: common-tls-directory-file-directory

common-tls-key-file-managed:
  file.managed:
    - name: {{ common.tls.key_file }}
    - contents_pillar: raycrafter_tls:private_key
    - mode: "0600"
    - show_changes: False
    - require:
      - file: common-tls-directory-file-directory
{%- else %}

common-tls-masterless-test-nop:
  test.nop:
    - name: a masterless host reaches every role over loopback, in plain text
{%- endif %}
