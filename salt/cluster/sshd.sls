{%- from "salt/common/map.jinja" import common with context %}
# The cluster's login: sshd with a pinned host key, no passwords, and only the worker's
# key for the cluster user.
{%- from "salt/cluster/map.jinja" import cluster with context %}
{%- from "salt/common/map.jinja" import secrets with context %}
{%- from "salt/common/consul.jinja" import consul_service with context %}
{%- from "salt/common/pid_file.jinja" import stale_pid_file_absent %}

include:
  - salt.cluster.account

cluster-sshd-package-pkg-installed:
  pkg.installed:
    - name: openssh-server

cluster-sshd-host-key-file-managed:
  file.managed:
    # It holds a secret: no diff of it in Salt's output or its job returns.
    - show_changes: False
    - name: /etc/ssh/ssh_host_raycrafter_ed25519_key
    - contents_pillar: raycrafter_secrets:cluster_host_private_key
    - mode: "0600"
    - require:
      - pkg: cluster-sshd-package-pkg-installed

cluster-sshd-config-file-managed:
  file.managed:
    - name: /etc/ssh/sshd_config.d/raycrafter.conf
    - source: salt://salt/cluster/files/sshd-raycrafter.conf.jinja
    - template: jinja
    - context:
        cluster: {{ cluster | json }}
    - mode: "0644"
    - require:
      - pkg: cluster-sshd-package-pkg-installed

cluster-sshd-authorized-keys-file-managed:
  file.managed:
    - name: /etc/ssh/authorized_keys/{{ cluster.user }}
    - contents: "restrict {{ secrets.cluster_ssh_public_key }}"
    - makedirs: True
    - dir_mode: "0755"
    - user: root
    - group: root
    - mode: "0644"
    - require:
      - sls: salt.cluster.account

cluster-sshd-privilege-separation-directory-file-directory:
  file.directory:
    - name: /run/sshd
    - mode: "0755"

{{ stale_pid_file_absent("cluster-sshd-stale-pid-file-absent", "/run/sshd.pid", "sshd") }}

cluster-sshd-service-running:
  service.running:
    - name: ssh
    - enable: {{ common.enable_services_at_boot | json }}
    - require:
      - cmd: cluster-sshd-stale-pid-file-absent
      - file: cluster-sshd-privilege-separation-directory-file-directory
      - file: cluster-sshd-authorized-keys-file-managed
    - watch:
      - file: cluster-sshd-host-key-file-managed
      - file: cluster-sshd-config-file-managed
# GridFTP (sshftp) is started through this sshd, so one service stands for both.
{{ consul_service("cluster-sshd", "cluster", cluster.ssh_port, {"service": "cluster-sshd-service-running"}, tags=["ssh", "gridftp-sshftp"]) }}
