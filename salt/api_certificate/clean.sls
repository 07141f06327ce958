# The trusted copy of the API's certificate removed; a web host keeps its own (salt/nginx).
{%- from "salt/common/map.jinja" import common with context %}
{%- set roles = grains.get("roles", []) %}
{%- set path = common.paths.etc ~ "/tls/api.crt" %}
{%- if "web" in roles or "allinone" in roles %}

api-certificate-clean-test-nop:
  test.nop:
    - name: the web host's own certificate stays
{%- else %}

api-certificate-file-absent:
  file.absent:
    - name: {{ path }}
{%- endif %}
