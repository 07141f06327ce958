mta-package-pkg-installed:
  pkg.installed:
    - name: exim4-daemon-light
