"""Under a salt master: a master and a minion started by pytest-salt-factories apply the
`logging` role to this host through the master, as a multi-host deployment would."""
import pathlib
import socket

import pytest

from support.salt_tree import REPOSITORY

pytestmark = pytest.mark.apply


def init_is_systemd():
    return pathlib.Path("/proc/1/comm").read_text().strip() == "systemd"


@pytest.fixture(scope="module")
def salt_master(salt_factories, example_pillar_dir):
    overrides = {
        "interface": "127.0.0.1",
        "file_roots": {"base": [str(REPOSITORY)]},
        "pillar_roots": {"base": [str(REPOSITORY / "pillar"), str(example_pillar_dir)]},
        "file_ignore_regex": [r"/\.git($|/)"],
        "state_top": "top.sls",
    }
    factory = salt_factories.salt_master_daemon("raycrafter-master", overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def logging_minion(salt_master):
    overrides = {"grains": {"roles": ["logging"]}}
    if not init_is_systemd():
        overrides["disable_modules"] = ["systemd_service"]
    factory = salt_master.salt_minion_daemon("raycrafter-logging", overrides=overrides)
    with factory.started():
        yield factory


def test_logging_role_applies_through_the_master(salt_master, logging_minion):
    ret = salt_master.salt_cli(timeout=900).run("state.highstate", minion_tgt=logging_minion.id)
    assert ret.returncode == 0, ret.stderr
    states = ret.data
    assert isinstance(states, dict) and states, ret.stdout
    assert {key: value["comment"] for key, value in states.items() if value["result"] is not True} == {}
    state_ids = {value["__id__"] for value in states.values()}
    assert "logserver-config-file-managed" in state_ids
    assert "postgres-service-running" not in state_ids

    # The role's service answers: a GELF connection to it is accepted.
    with socket.create_connection(("127.0.0.1", 12201), timeout=5):
        pass
