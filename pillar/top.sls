# Pillar top file. The repository ships no values: defaults live in each state folder's
# defaults.yaml; a site's own settings go in site.sls, which roles each minion holds in
# roles.yaml, and the generated secrets in secrets/ROLE.sls (pillar/generate_secrets.py),
# all kept outside git in the master's root-only pillar directory (/etc/raycrafter/pillar
# on a single host). A host gets the secrets of the roles the master assigns it, matched
# by its minion ID (which the master knows from its accepted key), never by a grain;
# mine.sls says what each host publishes for the others to find it.
{%- import_yaml "catalogue.yaml" as catalogue %}
{%- import_yaml "roles.yaml" as assignment %}
base:
  '*':
    - mine
    - roles
    # This host's TLS certificate, issued by the master (nothing on a masterless host).
    - tls
    - ignore_missing: True
    - site
{%- for minion, minion_roles in (assignment or {}) | dictsort if minion_roles %}
  'L@{{ minion }}':
    - match: compound
    - ignore_missing: True
{%-   for role in catalogue.roles if role in minion_roles %}
    - secrets.{{ role }}
{%-   endfor %}
{%- endfor %}
