{#- The contract distribution's source on every host that installs a component: the API,
    the worker, the node agent and the CLI each install it next to themselves. #}
{%- from "salt/common/map.jinja" import common with context %}

include:
  - salt.common

contract-source-file-recurse:
  file.recurse:
    - name: {{ common.paths.opt }}/src/contract
    - source: salt://contract
    - clean: True
    - exclude_pat: E@(__pycache__|\.egg-info|(^|/)build(/|$)|\.pyc$)
    - require:
      - sls: salt.common
