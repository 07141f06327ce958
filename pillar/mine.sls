# What each host publishes to the Salt mine, so the others find it (salt/common/discovery.jinja):
# its addresses and roles. (Certificates need no mine: every host trusts the deployment CA,
# pillar/tls.sls.)
mine_functions:
  raycrafter_addresses:
    - mine_function: network.ip_addrs
  raycrafter_roles:
    - mine_function: grains.get
    - roles
