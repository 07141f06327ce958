"""The multi-host tier: the appliance across LXC containers (a salt master and one host per
role) made from the repository's Vagrantfile.

The hosts are started once for the whole tier, from nothing, by `vagrant up` typed in the
repository as Vagrant users do (the Vagrantfile makes the box and the bridge it needs;
`./appliance hosts up` is that and no more), and `./appliance hosts down`
at its end must leave nothing behind. Traffic goes only to the containers' addresses on the
tier's own bridge, checked before the first command reaches them.
"""
import os
import subprocess

import pytest

from support.hosts import (MASTER_ADDRESS, REPOSITORY, Hosts, appliance_hosts,
                           assert_route_over_bridge)

# What `./appliance hosts` sets for Vagrant, which a user typing `vagrant up` has not.
_WRAPPER_ENVIRONMENT = ("VAGRANT_CWD", "VAGRANT_DEFAULT_PROVIDER", "RAYCRAFTER_HOSTS_PREPARED")


@pytest.fixture(scope="session")
def hosts():
    """Every host up from nothing; down again after the tier.

    RAYCRAFTER_HOSTS_REUSE=1 keeps hosts that are already up, and leaves them up after the
    tier (for working on one test): the first test then checks a new orchestration, and
    the test of `down` is skipped. CI never sets it."""
    assert os.geteuid() == 0, "the hosts tier makes containers and a bridge: run it as root"
    if os.environ.get("RAYCRAFTER_HOSTS_REUSE") == "1":
        assert_route_over_bridge(MASTER_ADDRESS)
        yield Hosts(first_up="", reused=True)
        return
    down = appliance_hosts("down")
    assert down.returncode == 0, down.stderr
    environment = {key: value for key, value in os.environ.items()
                   if key not in _WRAPPER_ENVIRONMENT}
    up = subprocess.run(["vagrant", "up"], cwd=REPOSITORY, env=environment, capture_output=True,
                        text=True)
    assert up.returncode == 0, f"vagrant up failed:\n{up.stdout[-6000:]}\n{up.stderr[-6000:]}"
    assert_route_over_bridge(MASTER_ADDRESS)
    yield Hosts(first_up=up.stdout)
    appliance_hosts("down")


@pytest.fixture(scope="session")
def secrets(hosts):
    """The deployment's secrets as the master generated them."""
    return hosts.master_secrets()
