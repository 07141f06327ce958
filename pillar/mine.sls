# What each host publishes to the Salt mine, so the others find it (salt/common/discovery.jinja):
# its addresses. Which roles a host holds is not its own to publish: the master says
# (pillar/roles.sls). Certificates need no mine either: every host trusts the deployment
# CA, pillar/tls.sls.
mine_functions:
  raycrafter_addresses:
    - mine_function: network.ip_addrs
