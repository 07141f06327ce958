include:
  - salt.worker.install
  - salt.worker.cluster_access
  - salt.worker.config
  - salt.worker.service
