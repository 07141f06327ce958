# The log server, raycrafter-logserver, under Supervisor: GELF records from the node
# agents, each taken only with its batch job's log credential (docs/operations.md, "The
# log server"). The host's own system logging is left alone.
include:
  - salt.logserver.install
  - salt.logserver.config
  - salt.logserver.service
