# Directories and tools every role needs, and under a salt master the names of the other
# hosts and this host's TLS certificate.
{%- from "salt/common/map.jinja" import common with context %}

include:
  - salt.common.peers
  - salt.common.tls

# A fresh host may have no package lists yet; later runs leave apt's cache alone.
common-package-lists-cmd-run:
  cmd.run:
    - name: apt-get update -qq
    - unless: ls /var/lib/apt/lists/ | grep -q '_Packages'

common-packages-pkg-installed:
  pkg.installed:
    - require:
      - cmd: common-package-lists-cmd-run
    - pkgs:
      - ca-certificates
      - openssl
      - python3-venv
      - python3-dev
      - gcc
      # `./appliance status` and the states' checks use curl and ss.
      - curl
      - iproute2
      # Salt's init.d service module asks `runlevel` on every service state; on Debian 12
      # systemd-sysv has it, and a minimal host or container lacks it. A host booted by
      # sysvinit (the LXC box, vagrant/box) has it from sysvinit-core, which systemd-sysv
      # would replace.
{%- if not salt["pkg.version"]("sysvinit-core") %}
      - systemd-sysv
{%- endif %}

{%- for name in ("etc", "opt", "data", "log") %}

common-{{ name }}-directory-file-directory:
  file.directory:
    - name: {{ common.paths[name] }}
    - user: root
    - group: root
    - mode: "0755"
{%- endfor %}
