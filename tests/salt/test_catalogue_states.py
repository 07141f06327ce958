"""The deployment catalogue is the one list of roles, secrets and ports: in a copy of the
repository whose catalogue moves the database's port, adds a secret and adds a throwaway
role (tests/support/catalogue_copy.py: an entry there and a state folder of its own,
nothing else), the states, the pillar's secrets, the firewall, the component that uses
the port, the orchestration and the checks all follow. (Terraform's rules and Vagrant's
machines follow the same copy in tests/terraform and tests/hosts.)

The hosts reach each other through Consul here, against the double of its HTTP API
(tests/salt/test_consul.py says why), which is how masterless hosts serve their peers;
under a master the Salt mine gives the same holders to the same firewall rules.
"""
import json
import re
import subprocess
import sys

import pytest

from support import catalogue_copy as copy
from support.consul_double import ConsulDouble
from support.salt_tree import CATALOGUE, make_pillar, masterless_config, stop_gpg_agent, write_consul_site

# The master's word: three hosts of the copy, and the peers registered in Consul.
ASSIGNED = {"cat-db": ["db"], "cat-web": ["web"], "cat-echo": [copy.ROLE],
            "db-1": ["db"], "broker-1": ["broker"], "web-1": ["web"], "worker-1": ["worker"],
            "logging-1": ["logging"]}
REGISTERED = (("db-1", "10.0.0.11", "raycrafter-postgresql", copy.MOVED_PORT[2]),
              ("broker-1", "10.0.0.21", "raycrafter-rabbitmq", 5671),
              ("logging-1", "10.0.0.41", "raycrafter-logserver", 12201),
              ("web-1", "10.0.0.31", "raycrafter-api", 443),
              ("worker-1", "10.0.0.61", "raycrafter-worker", 0))


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return copy.repository_copy(tmp_path_factory.mktemp("repository"))


@pytest.fixture(scope="module")
def agent():
    with ConsulDouble() as double:
        for host in REGISTERED:
            double.add_host_instance(*host)
        yield double


@pytest.fixture(scope="module")
def minions(salt_factories, tree, agent, tmp_path_factory):
    pillar_dir, keydir = tmp_path_factory.mktemp("pillar"), tmp_path_factory.mktemp("gpg")
    make_pillar(pillar_dir, keydir, ASSIGNED, repository=tree)
    write_consul_site(pillar_dir, agent.url)
    made = {}
    for minion in ("cat-db", "cat-web", "cat-echo"):
        made[minion] = salt_factories.salt_minion_daemon(
            minion, overrides=masterless_config(pillar_dir, keydir, repository=tree))
        ret = made[minion].salt_call_cli().run("--local", "saltutil.sync_all")
        assert ret.returncode == 0, ret.stderr
    yield made
    stop_gpg_agent(keydir)


def _run(minion, *args):
    ret = minion.salt_call_cli().run("--local", *args)
    assert ret.returncode == 0, ret.stdout + ret.stderr
    return ret.data


def _firewall(minion):
    state = _run(minion, "state.show_sls", "salt.firewall")["firewall-ruleset-file-managed"]
    context = next(item["context"] for item in state["file"] if isinstance(item, dict) and "context" in item)
    return {tuple(ports): sorted(sources) for _, ports, sources in context["firewall"]["services"]}


def test_the_new_role_brings_its_states_to_its_host_only(minions):
    echo = {value["__sls__"] for value in _run(minions["cat-echo"], "state.show_highstate").values()}
    db = {value["__sls__"] for value in _run(minions["cat-db"], "state.show_highstate").values()}
    assert "salt.echo" in echo and "salt.postgres.service" not in echo
    assert "salt.echo" not in db


def test_the_new_secret_reaches_the_roles_that_hold_it(minions):
    held = {name: set(_run(minion, "pillar.get", "raycrafter_secrets"))
            for name, minion in minions.items()}
    assert held["cat-echo"] == {copy.NEW_SECRET, "tls_ca_certificate"}
    assert copy.NEW_SECRET in held["cat-web"] and copy.NEW_SECRET not in held["cat-db"]


def test_the_firewall_serves_the_moved_port_and_the_new_role_to_their_clients(minions):
    db, echo = _firewall(minions["cat-db"]), _firewall(minions["cat-echo"])
    assert db[(str(copy.MOVED_PORT[2]),)] == ["10.0.0.31"]
    assert ("5432",) not in db
    assert echo[(str(copy.ROLE_PORT),)] == ["10.0.0.61"]


def test_the_component_that_uses_the_moved_port_follows_it(minions):
    compiled = _run(minions["cat-web"], "state.show_sls", "salt.api.config")
    context = next(item["context"] for item in compiled["api-config-file-managed"]["file"]
                   if isinstance(item, dict) and "context" in item)
    assert f"@db-1:{copy.MOVED_PORT[2]}/" in context["database_url"]
    listen = _run(minions["cat-db"], "state.show_sls", "salt.postgres.config")
    assert f'"port": {copy.MOVED_PORT[2]}' in json.dumps(listen)


def test_the_orchestration_applies_the_new_role_in_its_stage(minions):
    compiled = _run(minions["cat-web"], "state.show_sls", "salt.orch.highstate")
    targets = {state_id: next(item["tgt"] for item in state["salt"] if isinstance(item, dict) and "tgt" in item)
               for state_id, state in compiled.items() if state_id.startswith("orch-highstate-stage-")}
    assert set(targets["orch-highstate-stage-2"].split(",")) == {"cat-echo", "cat-web", "web-1"}
    assert "cat-echo" not in targets["orch-highstate-stage-1"]


def test_the_status_checks_include_the_new_roles(tree):
    listed = subprocess.run([sys.executable, str(tree / "pillar" / "catalogue.py"), "checks", copy.ROLE],
                            capture_output=True, text=True, check=True).stdout
    assert f"{copy.ROLE}\t{copy.ROLE}\ttest -e /tmp/raycrafter-echo-role-applied\t" in listed.splitlines()


def test_every_services_why_can_describe_a_cloud_firewall_rule():
    """AWS refuses a rule whose description holds anything else (an apostrophe, say)."""
    allowed = re.compile(r"^[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*$")
    holders = [CATALOGUE["master"], CATALOGUE["every_host"], *CATALOGUE["roles"].values()]
    whys = [service["why"] for holder in holders for service in holder["services"].values()]
    assert whys and [why for why in whys if not allowed.match(why)] == []
