{%- from "salt/postgres/map.jinja" import postgres with context %}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/common/tls.jinja" import service_tls_files %}
{%- set confdir = "/etc/postgresql/" ~ postgres.version ~ "/main" %}

include:
  - salt.postgres.package

postgres-listen-config-file-managed:
  file.managed:
    - name: {{ confdir }}/conf.d/raycrafter.conf
    - source: salt://salt/postgres/files/raycrafter.conf.jinja
    - template: jinja
    - context:
        postgres: {{ postgres | json }}
    - user: postgres
    - group: postgres
    - mode: "0644"
    - makedirs: True
    - require:
      - sls: salt.postgres.package

postgres-hba-config-file-managed:
  file.managed:
    - name: {{ confdir }}/pg_hba.conf
    - source: salt://salt/postgres/files/pg_hba.conf.jinja
    - template: jinja
    - context:
        postgres: {{ postgres | json }}
    - user: postgres
    - group: postgres
    - mode: "0640"
    - require:
      - sls: salt.postgres.package
{%- if common.tls.enabled %}
{#- The API hosts connect with sslmode=verify-full; pg_hba.conf admits them by hostssl only. #}
{{- service_tls_files("postgres", postgres.tls_dir, "postgres", "sls: salt.postgres.package") }}
{%- endif %}
