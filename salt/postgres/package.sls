{%- from "salt/postgres/map.jinja" import postgres with context %}

postgres-package-pkg-installed:
  pkg.installed:
    - name: postgresql-{{ postgres.version }}
