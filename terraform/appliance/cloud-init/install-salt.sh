#!/bin/sh
# Install the Salt the appliance pins into /opt/raycrafter/salt, as ./appliance does, and
# start one of its daemons. Usage: raycrafter-salt minion|master
# An image that already holds that Salt (or a wheelhouse in /opt/raycrafter/wheels, for
# hosts without a route to the package registries) is used as it is.
set -eu
daemon=$1
venv=/opt/raycrafter/salt
requirements=/etc/raycrafter/salt/requirements.txt

# Whether every pinned line (salt==..., py-consul==...) is installed in the venv.
pinned_salt_installed() {
    [ -x "$venv/bin/pip" ] || return 1
    [ "$("$venv/bin/pip" freeze 2>/dev/null | grep -cxF -f "$requirements")" -eq "$(grep -c . "$requirements")" ]
}

if ! pinned_salt_installed; then
    if [ -d /opt/raycrafter/wheels ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --no-index --find-links /opt/raycrafter/wheels \
            -r "$requirements" -c /etc/raycrafter/salt/constraints.txt
    else
        # Salt 3008 builds from source: a compiler and Python's headers.
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-dev gcc git openssh-client openssl gnupg
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet -r "$requirements" \
            -c /etc/raycrafter/salt/constraints.txt
    fi
fi

if [ "$(cat /proc/1/comm)" = systemd ]; then
    cat > "/etc/systemd/system/salt-$daemon.service" <<UNIT
[Unit]
Description=Salt $daemon (Raycrafter appliance)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=$venv/bin/salt-$daemon
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
    systemctl daemon-reload
    systemctl enable --now "salt-$daemon"
else
    # Without systemd, Salt's systemd module would answer "offline" and start no service.
    if [ "$daemon" = minion ]; then
        echo "disable_modules: [systemd_service]" > /etc/salt/minion.d/no-systemd.conf
    fi
    "$venv/bin/salt-$daemon" --daemon
fi
