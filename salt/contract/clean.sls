{#- The contract's source removed (each component's virtualenv holds its own install). #}
{%- from "salt/common/map.jinja" import common with context %}

contract-source-file-absent:
  file.absent:
    - name: {{ common.paths.opt }}/src/contract
