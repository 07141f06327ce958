cluster-renderer-povray-pkg-installed:
  pkg.installed:
    - name: povray
