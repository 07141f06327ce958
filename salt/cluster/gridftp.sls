{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/cluster/map.jinja" import cluster with context %}
# GridFTP over sshftp: the worker's globus-url-copy runs the server through ssh.
cluster-gridftp-package-pkg-installed:
  pkg.installed:
    - name: globus-gridftp-server-progs

# The service's start links /etc/grid-security/sshftp to this file, and writes it only
# when it is missing: written here first, it is ours.
cluster-gridftp-sshftp-script-file-managed:
  file.managed:
    - name: /etc/gridftp-sshftp
    - source: salt://salt/cluster/files/gridftp-sshftp.jinja
    - template: jinja
    - context:
        cluster: {{ cluster | json }}
    - mode: "0755"
    - require:
      - pkg: cluster-gridftp-package-pkg-installed

cluster-gridftp-sshftp-service-running:
  service.running:
    - name: globus-gridftp-sshftp
    - enable: {{ common.enable_services_at_boot | json }}
    - require:
      - file: cluster-gridftp-sshftp-script-file-managed
