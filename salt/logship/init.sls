{#- This host's programs' log lines to the log server (docs/operations.md, "The other
    programs' logs"): raycrafter-logship under Supervisor, as root, since the files it
    follows belong to their programs (nginx's to www-data and adm, PostgreSQL's to postgres,
    RabbitMQ's, Slurm's); it only reads them and connects out. A host without a log
    credential in its pillar (pillar/tls.sls: none without the secrets record) ships
    nothing and runs no shipper. #}
{%- from "salt/logship/map.jinja" import logship with context %}
{%- from "salt/supervisor/program.jinja" import supervisor_program, supervisor_program_absent with context %}

include:
  - salt.supervisor
  - salt.logship.install
{%- if logship.credential %}

logship-directories-file-directory:
  file.directory:
    - names:
      - {{ logship.config_file.rsplit("/", 1)[0] }}
      - {{ logship.state_file.rsplit("/", 1)[0] }}
    - user: root
    - group: root
    - mode: "0700"
    - makedirs: True

# Holds the host's log credential: root's alone.
logship-config-file-managed:
  file.managed:
    - name: {{ logship.config_file }}
    - show_changes: False
    - user: root
    - group: root
    - mode: "0600"
    - source: salt://salt/logship/files/logship.toml.jinja
    - template: jinja
    - context:
        logship: {{ logship | json }}
    - require:
      - file: logship-directories-file-directory
{{ supervisor_program("raycrafter-logship", "salt://salt/logship/files/raycrafter-logship.conf.jinja",
                      {"logship": logship},
                      restart_on=[{"cmd": "logserver-distribution-cmd-run"},
                                  {"file": "logship-config-file-managed"}]) }}
{%- else %}
{{ supervisor_program_absent("raycrafter-logship") }}
{%- endif %}
