{#- The log server removed from this host: its program and configuration. The records
    it received are kept. #}
{%- from "salt/logserver/map.jinja" import logserver with context %}
{%- from "salt/supervisor/program.jinja" import supervisor_program_absent with context %}
{%- from "salt/common/consul.jinja" import consul_service_absent with context %}
{{ consul_service_absent("logserver", "logging", {"file": "raycrafter-logserver-supervisor-program-file-absent"}) }}
{{ supervisor_program_absent("raycrafter-logserver") }}
