nginx-package-pkg-installed:
  pkg.installed:
    - name: nginx
