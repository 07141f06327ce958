{%- from "salt/postgres/map.jinja" import postgres with context %}
{%- from "salt/common/map.jinja" import secrets with context %}

include:
  - salt.postgres.service

postgres-application-role-postgres-user-present:
  postgres_user.present:
    - name: {{ postgres.user }}
    - password: {{ secrets.postgres_password | json }}
    - encrypted: scram-sha-256
    - login: True
    - createdb: False
    - superuser: False
    - db_port: {{ postgres.port }}
    - require:
      - sls: salt.postgres.service

postgres-application-database-postgres-database-present:
  postgres_database.present:
    - name: {{ postgres.database }}
    - owner: {{ postgres.user }}
    - db_port: {{ postgres.port }}
    - require:
      - postgres_user: postgres-application-role-postgres-user-present
