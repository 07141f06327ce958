{#- The log server's distribution (logserver/), which holds the shipper: on every host,
    for its shipper; the logging role's log server runs from the same virtualenv
    (salt/logserver/install.sls includes this). #}
{%- from "salt/logserver/map.jinja" import logserver with context %}
{%- from "salt/common/python.jinja" import python_distribution with context %}

include:
  - salt.common
  - salt.contract
{{ python_distribution("logserver", logserver.venv) }}
