{%- from "salt/common/map.jinja" import common with context %}
# Munge authenticates Slurm's daemons and commands; the package creates the host's key.
cluster-munge-package-pkg-installed:
  pkg.installed:
    - name: munge

cluster-munge-service-running:
  service.running:
    - name: munge
    - enable: {{ common.enable_services_at_boot | json }}
    - require:
      - pkg: cluster-munge-package-pkg-installed
