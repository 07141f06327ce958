# The highstate of every minion, in the order the roles need, run on the salt master
# (`salt-run state.orchestrate salt.orch.hosts`; the Vagrantfile's master does):
#   1. every host publishes its addresses and roles to the mine (pillar/mine.sls);
#   2. the services others connect to: db, broker, logging;
#   3. web, which migrates the database;
#   4. the hosts that use the API: cluster (node agents) and worker.
# Every host's certificate comes from the master's pillar (pillar/tls.sls), so no step
# waits for another host's.
# A host with roles of several steps is applied in each; its later runs change nothing.

orch-hosts-mine-update:
  salt.function:
    - name: mine.update
    - tgt: "*"

orch-hosts-highstate-services:
  salt.state:
    - tgt: "G@roles:db or G@roles:broker or G@roles:logging"
    - tgt_type: compound
    - highstate: True
    - require:
      - salt: orch-hosts-mine-update

orch-hosts-highstate-web:
  salt.state:
    - tgt: "G@roles:web"
    - tgt_type: compound
    - highstate: True
    - require:
      - salt: orch-hosts-highstate-services

orch-hosts-highstate-api-users:
  salt.state:
    - tgt: "G@roles:cluster or G@roles:worker"
    - tgt_type: compound
    - highstate: True
    - require:
      - salt: orch-hosts-highstate-web
