# Under a salt master each host reaches the others by their minion IDs, the names their
# certificates carry: /etc/hosts maps every host in the Salt mine, this one included, to
# its address on the hosts' network. `clean` drops the name from any other address (the
# 127.0.1.1 line Debian gives a host's own name), since services listen on the host's
# address and loopback, not on 127.0.1.1.
{%- from "salt/common/map.jinja" import common with context %}
{%- if common.serves_peers %}
{%-   set addresses = dict(common.peers) %}
{%-   do addresses.update({grains.id: common.address}) %}
{%-   for name, address in addresses | dictsort %}

common-peer-{{ name }}-host-present:
  host.present:
    - name: {{ name }}
    - ip: {{ address }}
    - clean: True
{%-   endfor %}
{%- else %}

common-peers-masterless-test-nop:
  test.nop:
    - name: a masterless host reaches every role over loopback
{%- endif %}
