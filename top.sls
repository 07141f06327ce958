# Which states each host gets: every host's own (the common states, its firewall, its
# node exporter), and the states of each role the salt master assigns it (pillar raycrafter_roles, from the
# master's roles.yaml; never a grain, which the minion could set). The roles and their
# states are the deployment catalogue's (pillar/catalogue.yaml).
{%- import_yaml "pillar/catalogue.yaml" as catalogue %}
base:
  '*':
{%- for state in catalogue.every_host.states %}
    - {{ state }}
{%- endfor %}
{%- for role, spec in catalogue.roles.items() %}
  'I@raycrafter_roles:{{ role }}':
    - match: compound
{%-   for state in spec.states %}
    - {{ state }}
{%-   endfor %}
{%- endfor %}
