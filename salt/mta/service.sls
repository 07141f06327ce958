{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/common/pid_file.jinja" import stale_pid_file_absent %}

include:
  - salt.mta.config

{{ stale_pid_file_absent("mta-stale-pid-file-absent", "/run/exim4/exim.pid", "exim4") }}

mta-service-running:
  service.running:
    - name: exim4
    - enable: {{ common.enable_services_at_boot | json }}
    - require:
      - cmd: mta-stale-pid-file-absent
    - watch:
      - cmd: mta-config-cmd-run
