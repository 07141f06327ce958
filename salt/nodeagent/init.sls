{%- from "salt/nodeagent/map.jinja" import nodeagent with context %}
{%- from "salt/common/python.jinja" import python_distribution with context %}

include:
  - salt.common
  - salt.contract
{{ python_distribution("nodeagent", nodeagent.venv) }}
