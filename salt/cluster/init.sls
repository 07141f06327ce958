include:
  - salt.cluster.account
  - salt.cluster.munge
  - salt.cluster.slurm
  - salt.cluster.fronts
  - salt.cluster.sshd
  - salt.cluster.gridftp
  - salt.cluster.renderer
  - salt.nodeagent
