{%- from "salt/worker/map.jinja" import worker with context %}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/common/python.jinja" import python_distribution with context %}

include:
  - salt.common
  - salt.contract

worker-packages-pkg-installed:
  pkg.installed:
    - pkgs:
      - openssh-client
      - globus-gass-copy-progs

worker-user-present:
  user.present:
    - name: {{ worker.user }}
    - system: True
    - home: {{ common.paths.data }}/worker
    - createhome: True
    - shell: /usr/sbin/nologin
{{ python_distribution("worker", worker.venv) }}
