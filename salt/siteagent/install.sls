{%- from "salt/siteagent/map.jinja" import siteagent with context %}
{%- from "salt/common/python.jinja" import python_distribution with context %}

include:
  - salt.common
  - salt.contract
  - salt.supervisor
{#- The worker's distribution, installed apart from the worker's own (a host may hold both
    roles): the site agent is its raycrafter-siteagent. #}
{{ python_distribution("worker", siteagent.venv, installed_as="siteagent") }}
