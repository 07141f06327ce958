# The user CLI `raycrafter` (shipped with the API distribution) on the web host: on
# everyone's PATH, configured for root with the admin token so it works right after
# bring-up, and ImageMagick to turn downloaded frames into an animation.
{%- from "salt/api/map.jinja" import api with context %}
{%- from "salt/nginx/map.jinja" import nginx with context %}
{%- set token_dir = api.config_file.rsplit("/", 1)[0] %}
{%- set https_port = "" if nginx.https_port | int == 443 else ":" ~ nginx.https_port %}

include:
  - salt.api.install
  - salt.api.database

api-client-command-file-symlink:
  file.symlink:
    - name: /usr/local/bin/raycrafter
    - target: {{ api.venv }}/bin/raycrafter
    - require:
      - cmd: api-distribution-cmd-run

# Points at the token file rather than copying the token: rotating the secret then needs
# no second edit. Mode 0600 because the CLI refuses settings others can read.
api-client-root-config-file-managed:
  file.managed:
    - name: /root/.config/raycrafter/client.toml
    - makedirs: True
    - dir_mode: "0700"
    - user: root
    - group: root
    - mode: "0600"
    - contents: |
        # File managed by Salt (salt/api/client.sls). Edits are overwritten.
        url = "https://{{ nginx.server_names[0] }}{{ https_port }}"
        token_file = "{{ token_dir }}/admin.token"
        ca_file = "{{ nginx.certificate_file }}"
    - require:
      - cmd: api-admin-token-cmd-run

api-client-animation-tools-pkg-installed:
  pkg.installed:
    - pkgs:
      - imagemagick
