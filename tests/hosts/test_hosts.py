"""The appliance across hosts: from nothing to a rendered job and back to nothing.

The tests run in this file's order: the session fixture `hosts` brings every host up, the
last test takes them down.
"""
import os
import re
import subprocess

import pytest

from support.hosts import BRIDGE, NETWORK, REPOSITORY, ROLES, appliance_hosts

pytestmark = pytest.mark.hosts

# What a host must never hold unless it has the role: {secret: roles that hold it}.
SECRET_HOLDERS = {
    "cluster_ssh_private_key": {"worker"},
    "postgres_password": {"db", "web"},
    "api_admin_token": {"web"},
    "rabbitmq_api_password": {"broker", "web"},
    "rabbitmq_worker_password": {"broker", "worker"},
}
# Where a host keeps what Salt put there (configuration, the components, their data).
SEARCHED = "/etc /opt/raycrafter /var/lib/raycrafter /srv /home /root"


def highstate_steps(orchestration):
    """The salt.state steps of one orchestration run (salt/orch/hosts.sls)."""
    steps = orchestration["data"]["master_master"].values()
    return [step for step in steps if step["__id__"].startswith("orch-hosts-highstate")]


def test_every_host_is_up_and_its_highstate_failed_nothing(hosts):
    answered = hosts.salt_json("'*'", "test.ping")
    assert set(answered) == set(ROLES)
    assert all(answered.values())
    # The orchestration prints one summary per minion's highstate: each with Failed: 0.
    summaries = re.findall(r"Summary for (\S+)\s*\n\s*-+\s*\n\s*Succeeded: \d+.*\n\s*Failed:\s+(\d+)",
                           hosts.first_up)
    assert {minion for minion, _ in summaries} == set(ROLES) | {"master_master"}
    assert all(failed == "0" for _, failed in summaries), summaries


def test_a_second_provision_changes_nothing(hosts):
    steps = highstate_steps(hosts.orchestrate())
    assert steps and all(step["result"] for step in steps), [step["comment"] for step in steps]
    # salt.state lists only the minions with changes (or failures) under its changes, and
    # names the others in its comment: "... No changes made to db, broker, logging."
    changed = {minion: sorted(state["__id__"] for state in ret.values() if state["changes"])
               for step in steps for minion, ret in step["changes"].get("ret", {}).items()}
    assert not changed, changed
    unchanged = set()
    for step in steps:
        named = re.search(r"No changes made to (.+)\.$", step["comment"])
        unchanged |= {minion.strip() for minion in named.group(1).split(",")} if named else set()
    assert unchanged == set(ROLES)


def test_each_host_has_only_its_roles_secrets_in_pillar(hosts):
    pillars = hosts.salt_json("'*'", "pillar.item", "raycrafter_secrets")
    for minion, pillar in pillars.items():
        held = set(pillar["raycrafter_secrets"])
        for secret, roles in SECRET_HOLDERS.items():
            assert (secret in held) == (minion in roles), f"{minion} and {secret}"


@pytest.mark.parametrize("secret", sorted(SECRET_HOLDERS))
def test_no_host_outside_the_roles_keeps_a_secret_on_disk(hosts, secrets, secret):
    # The value goes to each host on stdin, so it is in no command line or job record.
    value = secrets[secret]
    if "PRIVATE KEY" in value:
        # An ed25519 key's first lines are the same in every key; this one holds its seed.
        value = value.strip().splitlines()[-3]
    for machine in ROLES:
        if machine in SECRET_HOLDERS[secret]:
            continue
        found = hosts.run(machine, f"grep -rlF -f - {SEARCHED} 2>/dev/null || true", input=value + "\n")
        assert not found.strip(), f"{machine} holds {secret} in {found.split()}"


def test_services_listen_where_their_peers_reach_them(hosts):
    address = {role: f"{NETWORK}.{21 + index}" for index, role in enumerate(ROLES)}
    listening = {role: hosts.run(role, "ss -Hltn") for role in ROLES}
    assert f"{address['db']}:5432 " in listening["db"]
    assert f"{address['broker']}:5672 " in listening["broker"]
    assert f"{address['logging']}:12201 " in listening["logging"]
    assert ":443 " in listening["web"] and ":22 " in listening["cluster"]
    # The database admits the API's host only.
    hba = hosts.run("db", "cat /etc/postgresql/15/main/pg_hba.conf")
    assert f"{address['web']}/32" in hba and f"{address['worker']}/32" not in hba


def test_a_job_renders_across_the_hosts(hosts, tmp_path):
    demo = appliance_hosts("demo", env={**os.environ, "RAYCRAFTER_DEMO_DIR": str(tmp_path)})
    assert demo.returncode == 0, demo.stderr[-4000:]
    frames = sorted(tmp_path.glob("hosts-job-*/frames/*.png"))
    assert len(frames) == 24
    assert all(frame.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for frame in frames)
    # The batch job ran on the cluster host, submitted from the worker host.
    assert hosts.run("cluster", "cat /var/log/slurm/jobcomp.log").strip()
    assert "raycrafter-worker" in hosts.run("worker", "supervisorctl status")


def test_down_leaves_nothing_behind(hosts):
    down = appliance_hosts("down")
    assert down.returncode == 0, down.stderr
    assert subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode != 0
    containers = subprocess.run(["lxc-ls", "-1"], capture_output=True, text=True).stdout
    assert not [name for name in containers.split() if name.startswith(REPOSITORY.name + "_")]
    with open("/proc/mounts") as mounts:
        assert "/var/lib/lxc/" + REPOSITORY.name not in mounts.read()
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "lxc-start" not in processes and "[lxc monitor]" not in processes
    assert not (REPOSITORY / ".vagrant").exists()
