{%- from "salt/common/map.jinja" import common with context %}
# GridFTP over sshftp: the worker's globus-url-copy runs the server through ssh.
cluster-gridftp-package-pkg-installed:
  pkg.installed:
    - name: globus-gridftp-server-progs

cluster-gridftp-sshftp-service-running:
  service.running:
    - name: globus-gridftp-sshftp
    - enable: {{ common.enable_services_at_boot | json }}
    - require:
      - pkg: cluster-gridftp-package-pkg-installed
