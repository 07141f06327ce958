# Pillar top file. The repository ships no values: defaults live in each state folder's
# defaults.yaml; a site's own settings go in site.sls, and the generated secrets in
# secrets/ROLE.sls (pillar/generate_secrets.py), all kept outside git in
# /etc/raycrafter/pillar (mode 0600). A host gets the secrets of its roles only; mine.sls
# says what each host publishes for the others to find it.
base:
  '*':
    - mine
    # This host's TLS certificate, issued by the master (nothing on a masterless host).
    - tls
    - ignore_missing: True
    - site
{%- for role in ("db", "broker", "web", "worker", "logging", "cluster") %}
  'G@roles:{{ role }} or G@roles:allinone':
    - match: compound
    - ignore_missing: True
    - secrets.{{ role }}
{%- endfor %}
