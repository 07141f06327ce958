#!/bin/sh
# Build the LXD image the tier applies terraform/lxd with: Debian 12 by debootstrap (from
# Debian's archive, on the host), holding what the highstate of the roles the tier applies
# installs (the containers reach no package archive), and the appliance's own Salt venv.
# Usage: lxd-image.sh DIRECTORY ROLE...   (writes DIRECTORY/metadata.tar.gz, DIRECTORY/rootfs.tar.gz)
set -eu
out=$1
shift
here=$(dirname "$0")
rootfs=$out/rootfs
rm -rf "$rootfs"
mkdir -p "$out"
# salt.common's packages (systemd-sysv among them: Salt's service module needs runlevel),
# ifupdown and a DHCP client for LXD's bridge, and what the catalogue has every host and
# these roles install.
roles=$(/opt/raycrafter/salt/bin/python "$here/../../pillar/catalogue.py" packages "$@" | tr ' ' ,)
debootstrap --variant=minbase \
    --include=systemd-sysv,systemd,ifupdown,isc-dhcp-client,netbase,procps,iproute2,ca-certificates,openssl,gnupg,curl,nftables,python3,python3-venv,python3-dev,gcc,openssh-client,"$roles" \
    bookworm "$rootfs" >"$out/debootstrap.log" 2>&1
# The appliance's pinned Salt, as ./appliance up installed it (same Debian Python, same path).
mkdir -p "$rootfs/opt/raycrafter"
cp -a /opt/raycrafter/salt "$rootfs/opt/raycrafter/salt"
# salt.logserver installs the log server, a distribution of ours with no dependency: pip
# needs only the build backend, from wheels in the image, as the Vagrant box has them.
/opt/raycrafter/salt/bin/pip wheel --quiet --disable-pip-version-check \
    -w "$rootfs/opt/raycrafter/wheels" "setuptools>=61" wheel
cp "$here/../../vagrant/box/rootfs/pip.conf" "$rootfs/etc/pip.conf"
printf 'auto lo\niface lo inet loopback\nauto eth0\niface eth0 inet dhcp\n' > "$rootfs/etc/network/interfaces"
rm -f "$rootfs/etc/hostname"
# Debian's rc-local unit runs /etc/rc.local (terraform/lxd writes it) when it is executable.
cat > "$out/metadata.yaml" <<YAML
architecture: x86_64
creation_date: $(date +%s)
properties:
  description: Raycrafter test image (Debian 12, Salt 3008.3)
  os: debian
  release: bookworm
YAML
tar -C "$out" -czf "$out/metadata.tar.gz" metadata.yaml
tar -C "$rootfs" -czf "$out/rootfs.tar.gz" .
rm -rf "$rootfs"
