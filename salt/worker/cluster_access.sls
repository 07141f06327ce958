# Per cluster profile the worker reaches over SSH: the worker's SSH key, the pinned host
# key, and an ssh config block (alias raycrafter-PROFILE) that globus-url-copy's ssh uses
# for sshftp.
{%- from "salt/worker/map.jinja" import worker with context %}
{%- from "salt/common/map.jinja" import secrets with context %}

include:
  - salt.worker.install

worker-config-directory-file-directory:
  file.directory:
    - name: {{ worker.config_dir }}
    - user: root
    - group: {{ worker.user }}
    - mode: "0750"
    - require:
      - user: worker-user-present
{%- for name, profile in worker.ssh_clusters | dictsort %}
{%-   set host_key = profile.get("host_key") or " ".join(secrets.cluster_host_public_key.split()[:2]) %}

worker-{{ name }}-ssh-key-file-managed:
  file.managed:
    # It holds a secret: no diff of it in Salt's output or its job returns.
    - show_changes: False
    - name: {{ worker.config_dir }}/{{ name }}.key
    - contents: {{ (profile.get("private_key") or secrets.cluster_ssh_private_key) | json }}
    - user: {{ worker.user }}
    - group: {{ worker.user }}
    - mode: "0600"
    - require:
      - file: worker-config-directory-file-directory

worker-{{ name }}-known-hosts-file-managed:
  file.managed:
    - name: {{ worker.config_dir }}/{{ name }}.known_hosts
    - contents: "{{ '[' ~ profile.login_host ~ ']:' ~ profile.port if profile.port != 22 else profile.login_host }} {{ host_key }}"
    - user: root
    - group: {{ worker.user }}
    - mode: "0644"
    - require:
      - file: worker-config-directory-file-directory

worker-{{ name }}-ssh-config-file-managed:
  file.managed:
    - name: /etc/ssh/ssh_config.d/raycrafter-{{ name }}.conf
    - contents: |
        # File managed by Salt (salt/worker/cluster_access.sls). Edits are overwritten.
        Host raycrafter-{{ name }}
            HostName {{ profile.login_host }}
            Port {{ profile.port }}
            User {{ profile.user }}
            IdentityFile {{ worker.config_dir }}/{{ name }}.key
            IdentitiesOnly yes
            UserKnownHostsFile {{ worker.config_dir }}/{{ name }}.known_hosts
            StrictHostKeyChecking yes
            BatchMode yes
    - mode: "0644"
{%- endfor %}
