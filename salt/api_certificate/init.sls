# The API's certificate on hosts that reach the API without serving it (the worker, and
# the cluster's node agents): the web host publishes it to the Salt mine (pillar/mine.sls)
# and they trust exactly it. A web host, and a masterless one, has its own (salt/nginx).
{%- from "salt/common/map.jinja" import common with context %}
{%- set roles = grains.get("roles", []) %}
{%- set path = common.paths.etc ~ "/tls/api.crt" %}

api-certificate-directory-file-directory:
  file.directory:
    - name: {{ path.rsplit("/", 1)[0] }}
    - mode: "0755"
    - makedirs: True

{%- if common.serves_peers and "web" not in roles %}
{%-   set published = salt["mine.get"]("G@roles:web", "raycrafter_api_certificate", tgt_type="compound") %}
{%-   if not published %}
{{-     raise("no web host has published the API's certificate to the Salt mine: apply the highstate to the web hosts first, then run mine.update on them") }}
{%-   endif %}

api-certificate-file-managed:
  file.managed:
    - name: {{ path }}
    - contents: {{ published[published | sort | first] | json }}
    - mode: "0644"
    - require:
      - file: api-certificate-directory-file-directory
{%- endif %}
