# The highstate of every minion, in the order the roles need, run on the salt master
# (`salt-run state.orchestrate salt.orch.highstate`; the Vagrantfile's master does):
#   1. every host publishes its addresses to the mine (pillar/mine.sls);
#   2. then each stage of the deployment catalogue (pillar/catalogue.yaml `stages`) in
#      turn: the minions the master assigns a role of that stage (roles.yaml).
# Every host's certificate comes from the master's pillar (pillar/tls.sls), so no step
# waits for another host's. A host with roles in several stages is applied in each; its
# later runs change nothing.
{%- import_yaml "pillar/catalogue.yaml" as catalogue %}
{%- set holders = salt["pillar.get"]("raycrafter_role_holders", {}) %}
{%- if not holders.values() | select | list %}
{{- raise("the master assigns no minion a role: write roles.yaml beside the secrets in the master's pillar directory (docs/operations.md, \"Who holds which role\")") }}
{%- endif %}

orch-highstate-mine-update:
  salt.function:
    - name: mine.update
    - tgt: "*"
{%- set previous = namespace(step="salt: orch-highstate-mine-update") %}
{%- for stage, about in catalogue.stages | dictsort %}
{%-   set minions = [] %}
{%-   for role, spec in catalogue.roles.items() if spec.stage == stage %}
{%-     for minion in holders.get(role, []) if minion not in minions %}{% do minions.append(minion) %}{% endfor %}
{%-   endfor %}
{%-   if minions %}

# Stage {{ stage }}: {{ about }}.
orch-highstate-stage-{{ stage }}:
  salt.state:
    - tgt: {{ minions | sort | join(",") | json }}
    - tgt_type: list
    - highstate: True
    - require:
      - {{ previous.step }}
{%-     set previous.step = "salt: orch-highstate-stage-" ~ stage %}
{%-   endif %}
{%- endfor %}
