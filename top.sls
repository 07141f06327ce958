# Roles come from the grain `roles`; `allinone` is every role on one host.
base:
  '*':
    - salt.common
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
  # Hosts that reach the API without serving it trust the web host's certificate.
  'G@roles:cluster or G@roles:worker':
    - match: compound
    - salt.api_certificate
  'G@roles:web or G@roles:allinone':
    - match: compound
    - salt.api
    - salt.nginx
    - salt.cli
  'G@roles:worker or G@roles:allinone':
    - match: compound
    - salt.worker
