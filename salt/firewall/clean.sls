{#- The appliance's firewall table removed and no longer loaded at boot. #}
{%- from "salt/firewall/map.jinja" import firewall with context %}

firewall-table-cmd-run:
  cmd.run:
    - name: nft delete table inet raycrafter
    - onlyif: nft list table inet raycrafter

firewall-files-file-absent:
  file.absent:
    - names:
      - {{ firewall.ruleset_file }}
      - /etc/network/if-pre-up.d/raycrafter-firewall
