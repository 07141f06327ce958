{%- from "salt/logserver/map.jinja" import logserver with context %}
{%- from "salt/common/python.jinja" import python_distribution with context %}

include:
  - salt.common
  - salt.contract

logserver-user-present:
  user.present:
    - name: {{ logserver.user }}
    - system: True
    - home: /nonexistent
    - createhome: False
    - shell: /usr/sbin/nologin
{{ python_distribution("logserver", logserver.venv) }}
