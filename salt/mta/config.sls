{%- from "salt/mta/map.jinja" import mta with context %}

include:
  - salt.mta.package

mta-mailname-file-managed:
  file.managed:
    - name: /etc/mailname
    - contents: {{ mta.mailname | json }}
    - mode: "0644"
    - require:
      - pkg: mta-package-pkg-installed

mta-config-file-managed:
  file.managed:
    - name: /etc/exim4/update-exim4.conf.conf
    - source: salt://salt/mta/files/update-exim4.conf.conf.jinja
    - template: jinja
    - context:
        mta: {{ mta | json }}
    - mode: "0644"
    - require:
      - pkg: mta-package-pkg-installed

# Debian's exim4 reads the configuration update-exim4.conf writes from the file above.
mta-config-cmd-run:
  cmd.run:
    - name: update-exim4.conf
    - onchanges:
      - file: mta-config-file-managed
      - file: mta-mailname-file-managed
