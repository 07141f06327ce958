# The site agent of one cluster in pull mode (raycrafter-siteagent, the worker's
# distribution), under Supervisor as the cluster's user. On the stand-in its login node is
# the cluster role's host, whose account and scratch it uses.
include:
  - salt.siteagent.install
  - salt.siteagent.config
  - salt.siteagent.service
