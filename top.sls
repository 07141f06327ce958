# Roles come from the grain `roles`; `allinone` is every role on one host.
base:
  '*':
    - salt.common
    - salt.firewall
  'G@roles:db or G@roles:allinone':
    - match: compound
    - salt.postgres
  'G@roles:broker or G@roles:allinone':
    - match: compound
    - salt.rabbitmq
  'G@roles:logging or G@roles:allinone':
    - match: compound
    - salt.logserver
  'G@roles:cluster or G@roles:allinone':
    - match: compound
    - salt.cluster
  'G@roles:web or G@roles:allinone':
    - match: compound
    - salt.api
    - salt.nginx
    - salt.cli
  'G@roles:worker or G@roles:allinone':
    - match: compound
    - salt.worker
