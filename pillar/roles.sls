{#- Who holds which role: the salt master's word. roles.yaml, in the master's root-only
    pillar directory beside the secrets, maps each minion ID to its roles (./appliance
    writes it for this host, the Vagrantfile and Terraform for theirs). The master renders
    this for the minion whose accepted key it knows (opts.id), so no minion can give
    itself a role: top.sls, the secrets (pillar/top.sls), the firewall and discovery all
    follow raycrafter_roles and raycrafter_role_holders, never a grain. #}
{%- import_yaml "catalogue.yaml" as catalogue %}
{%- import_yaml "roles.yaml" as assignment %}
{%- set assignment = assignment or {} %}
{%- set holders = {} %}
{%- for role in catalogue.roles %}{% do holders.update({role: []}) %}{% endfor %}
{%- for minion, minion_roles in assignment | dictsort %}
{%-   for role in minion_roles or [] %}
{%-     if role not in catalogue.roles %}
{{-       raise("roles.yaml gives " ~ minion ~ " the role " ~ role ~ ", which the deployment catalogue (pillar/catalogue.yaml) does not know; its roles: " ~ (catalogue.roles | join(", "))) }}
{%-     endif %}
{%-     do holders[role].append(minion) %}
{%-   endfor %}
{%- endfor %}
raycrafter_roles: {{ (assignment.get(opts.id) or []) | json }}
raycrafter_role_holders: {{ holders | json }}
