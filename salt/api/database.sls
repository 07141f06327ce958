# The schema, and the tokens generated with the deployment's secrets. Each command prints
# Salt's stateful line (changed=yes|no), so an unchanged host reports no changes.
{%- from "salt/api/map.jinja" import api with context %}
{%- from "salt/siteagent/map.jinja" import siteagent with context %}
{%- set admin = api.venv ~ "/bin/raycrafter-admin --config " ~ api.config_file %}
{%- set token_dir = api.config_file.rsplit("/", 1)[0] %}

include:
  - salt.api.config

api-database-migrate-cmd-run:
  cmd.run:
    - name: {{ admin }} migrate
    - stateful: True
    - runas: {{ api.user }}
    - require:
      - sls: salt.api.config
{#- The site agent's token, while its cluster is one the API serves in pull mode. #}
{%- set site_token = siteagent.cluster in api.pull_clusters %}
{%- for name in ("admin", "worker") + (("siteagent",) if site_token else ()) %}

api-{{ name }}-token-file-managed:
  file.managed:
    # It holds a secret: no diff of it in Salt's output or its job returns.
    - show_changes: False
    - name: {{ token_dir }}/{{ name }}.token
    - contents_pillar: raycrafter_secrets:api_{{ name }}_token
    - user: root
    - group: root
    - mode: "0600"
    - require:
      - file: api-config-directory-file-directory
{%- endfor %}

api-admin-token-cmd-run:
  cmd.run:
    - name: {{ admin }} token ensure --user admin --admin --token-file {{ token_dir }}/admin.token
    - stateful: True
    - require:
      - cmd: api-database-migrate-cmd-run
      - file: api-admin-token-file-managed

api-worker-token-cmd-run:
  cmd.run:
    - name: {{ admin }} service-token ensure worker --token-file {{ token_dir }}/worker.token
    - stateful: True
    - require:
      - cmd: api-database-migrate-cmd-run
      - file: api-worker-token-file-managed
{%- if site_token %}

# The site agent's token (the siteagent role's cluster, in pull mode): it reaches that
# cluster's jobs only.
api-siteagent-token-cmd-run:
  cmd.run:
    - name: {{ admin }} site-token ensure --cluster {{ siteagent.cluster }} --token-file {{ token_dir }}/siteagent.token
    - stateful: True
    - require:
      - cmd: api-database-migrate-cmd-run
      - file: api-siteagent-token-file-managed
{%- endif %}
