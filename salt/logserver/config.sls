{%- from "salt/logserver/map.jinja" import logserver with context %}
{%- from "salt/common/map.jinja" import common, secrets with context %}
{%- from "salt/common/tls.jinja" import service_tls_files %}
{%- set config_dir = logserver.config_file.rsplit("/", 1)[0] %}

include:
  - salt.logserver.install

logserver-config-directory-file-directory:
  file.directory:
    - name: {{ config_dir }}
    - user: root
    - group: {{ logserver.user }}
    - mode: "0750"
    - makedirs: True
    - require:
      - user: logserver-user-present

# The records stay where syslog-ng, the log server before this one, kept them; the files
# it left (owned by root) become the log server's.
logserver-records-directory-file-directory:
  file.directory:
    - name: {{ logserver.records_file.rsplit("/", 1)[0] }}
    - user: {{ logserver.user }}
    - group: {{ logserver.user }}
    - mode: "0750"
    - makedirs: True
    - recurse: [user, group]
    - require:
      - user: logserver-user-present

logserver-syslog-ng-leftovers-file-absent:
  file.absent:
    - names:
      - {{ config_dir }}/syslog-ng.conf
      - {{ common.paths.data }}/logserver
{%- if common.tls.enabled %}
{{- service_tls_files("logserver", logserver.tls_dir, logserver.user, "user: logserver-user-present") }}
{%- endif %}

# Holds the key log credentials are checked with and the search token: readable by the log
# server's user only.
logserver-config-file-managed:
  file.managed:
    - name: {{ logserver.config_file }}
    - source: salt://salt/logserver/files/logserver.toml.jinja
    - template: jinja
    - context:
        logserver: {{ logserver | json }}
        credential_key: {{ secrets.log_credential_key | json }}
        search_token: {{ secrets.log_search_token | json }}
        tls_dir: {{ (logserver.tls_dir if common.tls.enabled else "") | json }}
    - user: {{ logserver.user }}
    - group: {{ logserver.user }}
    - mode: "0600"
    # It holds a secret: no diff of it in Salt's output or its job returns.
    - show_changes: False
    - require:
      - file: logserver-config-directory-file-directory

# raycrafter-logs on root's PATH, searching this host's records with this configuration.
logserver-search-command-file-managed:
  file.managed:
    - name: /usr/local/sbin/raycrafter-logs
    - mode: "0755"
    - contents: |
        #!/bin/sh
        # File managed by Salt (salt/logserver). Edits are overwritten.
        exec {{ logserver.venv }}/bin/raycrafter-logs --config {{ logserver.config_file }} "$@"
    - require:
      - file: logserver-config-file-managed
