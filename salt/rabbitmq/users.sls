{%- from "salt/rabbitmq/map.jinja" import rabbitmq with context %}
{%- from "salt/common/map.jinja" import secrets with context %}
{%- set exchange = rabbitmq.exchange | regex_escape %}
{%- set queue = rabbitmq.queue | regex_escape %}

include:
  - salt.rabbitmq.service

rabbitmq-guest-user-absent:
  rabbitmq_user.absent:
    - name: guest
    - require:
      - sls: salt.rabbitmq.service

rabbitmq-vhost-present:
  rabbitmq_vhost.present:
    - name: {{ rabbitmq.vhost }}
    - require:
      - sls: salt.rabbitmq.service

# Permissions are (configure, write, read) regexes. The API may declare and publish to
# the commands exchange only; it can neither read nor touch any queue. Passwords are set
# by the password states below, not here: Salt's module puts them on rabbitmqctl's
# command line, where one beginning with '-' is taken for an option.
rabbitmq-api-user-present:
  rabbitmq_user.present:
    - name: {{ rabbitmq.api_user }}
    - perms:
      - {{ rabbitmq.vhost }}:
        - '^{{ exchange }}$'
        - '^{{ exchange }}$'
        - '^$'
    - require:
      - rabbitmq_vhost: rabbitmq-vhost-present

# The worker declares its queue and binds it to the exchange (binding needs write on the
# queue and read on the exchange), and consumes from the queue. It cannot publish.
rabbitmq-worker-user-present:
  rabbitmq_user.present:
    - name: {{ rabbitmq.worker_user }}
    - perms:
      - {{ rabbitmq.vhost }}:
        - '^({{ exchange }}|{{ queue }})$'
        - '^{{ queue }}$'
        - '^({{ exchange }}|{{ queue }})$'
    - require:
      - rabbitmq_vhost: rabbitmq-vhost-present

{#- The password travels on stdin, set and checked alike (printf is the shell's own, so it
    is no process's argument either), never as an argument: a process's arguments are
    anyone's to read in /proc. `--` ends rabbitmqctl's options before the user name. #}
{%- for role, user, password in (("api", rabbitmq.api_user, secrets.rabbitmq_api_password),
                                 ("worker", rabbitmq.worker_user, secrets.rabbitmq_worker_password)) %}

rabbitmq-{{ role }}-user-password-cmd-run:
  cmd.run:
    - name: rabbitmqctl -q change_password -- {{ user }}
    - stdin: {{ password | json }}
    - env:
      - RABBITMQ_PASSWORD: {{ password | json }}
    - unless: printf '%s' "$RABBITMQ_PASSWORD" | rabbitmqctl -q authenticate_user -- {{ user }}
    - output_loglevel: quiet
    - require:
      - rabbitmq_user: rabbitmq-{{ role }}-user-present
{%- endfor %}
