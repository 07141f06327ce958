# Pillar top file. The repository ships no values: defaults live in each state folder's
# defaults.yaml; a site's own settings go in site.sls and the generated secrets in
# secrets.sls, both kept outside git in /etc/raycrafter/pillar (mode 0600).
base:
  '*':
    - ignore_missing: True
    - site
    - secrets
