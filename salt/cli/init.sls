# The user CLI `raycrafter` (its own distribution, cli/) on the web host: on everyone's
# PATH, configured for root with the admin token so it works right after bring-up, and
# ImageMagick to turn downloaded frames into an animation.
{%- from "salt/cli/map.jinja" import cli with context %}
{%- from "salt/api/map.jinja" import api with context %}
{%- from "salt/nginx/map.jinja" import nginx with context %}
{%- from "salt/common/python.jinja" import python_distribution with context %}
{%- set token_dir = api.config_file.rsplit("/", 1)[0] %}

include:
  - salt.common
  - salt.contract
  - salt.api.database
{{ python_distribution("cli", cli.venv) }}

cli-command-file-symlink:
  file.symlink:
    - name: /usr/local/bin/raycrafter
    - target: {{ cli.venv }}/bin/raycrafter
    - force: True
    - require:
      - cmd: cli-distribution-cmd-run

# Points at the token file rather than copying the token: rotating the secret then needs
# no second edit. Mode 0600 because the CLI refuses settings others can read.
cli-root-config-file-managed:
  file.managed:
    - name: /root/.config/raycrafter/client.toml
    - makedirs: True
    - dir_mode: "0700"
    - user: root
    - group: root
    - mode: "0600"
    - contents: |
        # File managed by Salt (salt/cli/init.sls). Edits are overwritten.
        url = "{{ nginx.api_url }}"
        token_file = "{{ token_dir }}/admin.token"
        ca_file = "{{ nginx.api_ca_file }}"
    - require:
      - cmd: api-admin-token-cmd-run

cli-animation-tools-pkg-installed:
  pkg.installed:
    - pkgs:
      - imagemagick
