{%- from "salt/common/map.jinja" import common with context %}
# Supervisor runs the appliance's own long-running programs, with or without systemd.
# Components drop their program files into /etc/supervisor/conf.d and require this sls.

supervisor-package-pkg-installed:
  pkg.installed:
    - name: supervisor

supervisor-service-running:
  service.running:
    - name: supervisor
    - enable: {{ common.enable_services_at_boot | json }}
    - require:
      - pkg: supervisor-package-pkg-installed
