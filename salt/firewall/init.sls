# nftables: under a salt master each host accepts only what its roles serve, from the hosts
# that need it (salt/firewall/map.jinja); outgoing traffic is not filtered. A masterless
# host's firewall is its operator's.
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/firewall/map.jinja" import firewall with context %}
{%- if common.serves_peers and firewall.enabled %}

firewall-package-pkg-installed:
  pkg.installed:
    - name: nftables

firewall-ruleset-file-managed:
  file.managed:
    - name: {{ firewall.ruleset_file }}
    - source: salt://salt/firewall/files/raycrafter.nft.jinja
    - template: jinja
    - context:
        firewall: {{ firewall | json }}
    - mode: "0644"
    - makedirs: True
    - check_cmd: nft -c -f
    - require:
      - pkg: firewall-package-pkg-installed

# Loaded when it changed, and whenever the table is missing (after an `nft flush ruleset`,
# or a boot that did not load it).
firewall-ruleset-changed-cmd-run:
  cmd.run:
    - name: nft -f {{ firewall.ruleset_file }}
    - onchanges:
      - file: firewall-ruleset-file-managed

firewall-ruleset-loaded-cmd-run:
  cmd.run:
    - name: nft -f {{ firewall.ruleset_file }}
    - unless: nft list table inet raycrafter
    - require:
      - cmd: firewall-ruleset-changed-cmd-run

# At boot, before the network comes up: ifupdown's hook (the LXC box and Debian's own
# networking), or systemd's nftables unit where systemd runs.
{%-   if salt["file.directory_exists"]("/etc/network/if-pre-up.d") %}

firewall-boot-hook-file-managed:
  file.managed:
    - name: /etc/network/if-pre-up.d/raycrafter-firewall
    - mode: "0755"
    - contents: |
        #!/bin/sh
        # Written by Salt (salt/firewall). Loads the appliance's firewall before any interface is up.
        [ "$IFACE" = lo ] || exit 0
        exec nft -f {{ firewall.ruleset_file }}
{%-   endif %}
{%-   if grains.get("init") == "systemd" %}

firewall-nftables-conf-file-managed:
  file.managed:
    - name: /etc/nftables.conf
    - contents: |
        #!/usr/sbin/nft -f
        # Written by Salt (salt/firewall).
        include "{{ firewall.ruleset_file }}"
    - mode: "0755"

firewall-nftables-service-enabled:
  service.enabled:
    - name: nftables
{%-   endif %}
{%- else %}

firewall-left-alone-test-nop:
  test.nop:
    - name: this host's firewall is left to its operator (masterless, or raycrafter:firewall:enabled false)
{%- endif %}
