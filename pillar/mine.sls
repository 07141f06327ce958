# What each host publishes to the Salt mine, so the others find it (salt/common/discovery.jinja):
# its addresses and roles, and on web hosts the API's certificate, which the worker and the
# node agents trust (salt/apica).
mine_functions:
  raycrafter_addresses:
    - mine_function: network.ip_addrs
  raycrafter_roles:
    - mine_function: grains.get
    - roles
{%- if "web" in grains.get("roles", []) %}
  raycrafter_api_certificate:
    - mine_function: file.read
    # raycrafter:nginx:certificate_file; pillar cannot read the states' defaults.
    - /etc/raycrafter/tls/api.crt
{%- endif %}
