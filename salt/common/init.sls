# Directories and tools every role needs.
{%- from "salt/common/map.jinja" import common with context %}

common-packages-pkg-installed:
  pkg.installed:
    - pkgs:
      - ca-certificates
      - openssl
      - python3-venv
      - python3-dev
      - gcc

{%- for name in ("etc", "opt", "data", "log") %}

common-{{ name }}-directory-file-directory:
  file.directory:
    - name: {{ common.paths[name] }}
    - user: root
    - group: root
    - mode: "0755"
{%- endfor %}
