{#- The site agent's configuration, token and lock, readable by the cluster's user only.
    The profile is the worker's (salt/worker/map.jinja), as every profile is. #}
{%- from "salt/siteagent/map.jinja" import siteagent with context %}
{%- from "salt/worker/map.jinja" import worker with context %}
{%- from "salt/common/map.jinja" import common with context %}
{%- from "salt/logserver/map.jinja" import logserver with context %}
{%- set profile = worker.clusters.get(siteagent.cluster) %}
{%- if not profile or profile.get("access") != "pull" or not profile.get("user") %}
{{- raise("raycrafter:siteagent:cluster is " ~ siteagent.cluster ~ ", which is no profile of raycrafter:worker:clusters with access: pull and a user") }}
{%- endif %}
{%- set stand_in = siteagent.cluster in worker.standin_variants %}

include:
  - salt.siteagent.install
{%- if stand_in %}

# A site's own account exists already. The stand-in's is the cluster role's, which the
# host of a site agent has also where it holds no cluster role (a host of its own).
siteagent-account-user-present:
  user.present:
    - name: {{ profile.user }}
    - shell: /bin/bash
{%- endif %}

siteagent-config-directory-file-directory:
  file.directory:
    - name: {{ siteagent.config_dir }}
    - user: {{ profile.user }}
    - group: {{ profile.user }}
    - mode: "0700"
    - makedirs: True
{%- if stand_in %}
    - require:
      - user: siteagent-account-user-present
{%- endif %}

siteagent-api-token-file-managed:
  file.managed:
    # It holds a secret: no diff of it in Salt's output or its job returns.
    - show_changes: False
    - name: {{ siteagent.config_dir }}/api.token
    - contents_pillar: raycrafter_secrets:api_siteagent_token
    - user: {{ profile.user }}
    - group: {{ profile.user }}
    - mode: "0600"
    - require:
      - file: siteagent-config-directory-file-directory

siteagent-config-file-managed:
  file.managed:
    - name: {{ siteagent.config_dir }}/siteagent.toml
    - source: salt://salt/siteagent/files/siteagent.toml.jinja
    - template: jinja
    - context:
        siteagent: {{ siteagent | json }}
        name: {{ siteagent.cluster | json }}
        profile: {{ profile | json }}
        scene_limits: {{ common.scene_limits | json }}
        logserver: {{ logserver | json }}
    - user: {{ profile.user }}
    - group: {{ profile.user }}
    - mode: "0600"
    - require:
      - file: siteagent-config-directory-file-directory
