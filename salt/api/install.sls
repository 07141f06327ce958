{%- from "salt/api/map.jinja" import api with context %}
{%- from "salt/common/python.jinja" import python_distribution with context %}

include:
  - salt.common
  - salt.contract

api-user-present:
  user.present:
    - name: {{ api.user }}
    - system: True
    - home: {{ api.data_dir }}
    - createhome: False
    - shell: /usr/sbin/nologin
{{ python_distribution("api", api.venv) }}
