{#- The log server's user; its distribution is installed on every host, for the
    shipper (salt/logship/install.sls). #}
{%- from "salt/logserver/map.jinja" import logserver with context %}

include:
  - salt.logship.install

logserver-user-present:
  user.present:
    - name: {{ logserver.user }}
    - system: True
    - home: /nonexistent
    - createhome: False
    - shell: /usr/sbin/nologin
