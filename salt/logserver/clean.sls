{#- The log server removed from this host: its program and configuration. The records
    it received are kept. #}
{%- from "salt/logserver/map.jinja" import logserver with context %}
{%- from "salt/supervisor/program.jinja" import supervisor_program_absent with context %}
{{ supervisor_program_absent("raycrafter-logserver") }}
