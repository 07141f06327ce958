"""The multi-host tier: the appliance across LXC containers (a salt master and one host per
role) made by `./appliance hosts up` from the repository's Vagrantfile.

The hosts are started once for the whole tier, from nothing, and `./appliance hosts down`
at its end must leave nothing behind. Traffic goes only to the containers' addresses on the
tier's own bridge, checked before the first command reaches them.
"""
import os

import pytest

from support.hosts import MASTER_ADDRESS, Hosts, appliance_hosts, assert_route_over_bridge


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
    up = appliance_hosts("up")
    assert up.returncode == 0, f"./appliance hosts up failed:\n{up.stdout[-6000:]}\n{up.stderr[-6000:]}"
    assert_route_over_bridge(MASTER_ADDRESS)
    yield Hosts(first_up=up.stdout)
    appliance_hosts("down")


@pytest.fixture(scope="session")
def secrets(hosts):
    """The deployment's secrets as the master generated them."""
    return hosts.master_secrets()
