"""Fixtures for the worker tests, against the real `cluster` role on this machine.

The cluster is the local sshd (user ``render``), Slurm with its PBS wrappers and GridFTP
over sshftp. Its key and pinned host key come from the generated secrets file, so the
tests must run as root. Every test gets its own scratch directory and batch-name prefix,
so nothing it does can be mistaken for another test's (or another engineer's) jobs, and
its batch jobs are cancelled at the end.
"""
import os
import secrets as random_secrets
import shlex
import socket
import subprocess

import pytest

from raycrafter_worker import config as worker_config
from raycrafter_worker.cluster import Cluster
from raycrafter_worker.transfer_costs import CostProfile, WayCost
from support.appliance_secrets import appliance_secrets
from support.worker_harness import ThrowawaySshd

LOGIN_HOST = "127.0.0.1"
CLUSTER_USER = "render"
SCRATCH_ROOT = "/srv/raycrafter/scratch"
SSH_CONFIG_DIR = "/etc/ssh/ssh_config.d"


@pytest.fixture(scope="session")
def cluster_secrets():
    return appliance_secrets()


@pytest.fixture(scope="session")
def ssh_files(tmp_path_factory, cluster_secrets):
    """The worker's key, the pinned known_hosts, and one with a wrong key for the host."""
    d = tmp_path_factory.mktemp("ssh")
    key = d / "id_worker"
    key.write_text(cluster_secrets["cluster_ssh_private_key"].rstrip("\n") + "\n")
    key.chmod(0o600)
    known = d / "known_hosts"
    known.write_text(f"{LOGIN_HOST} {cluster_secrets['cluster_host_public_key'].strip()}\n")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "other")],
                   check=True)
    other = (d / "other.pub").read_text().split()
    wrong = d / "known_hosts_wrong"
    wrong.write_text(f"{LOGIN_HOST} {other[0]} {other[1]}\n")
    return {"key": str(key), "known_hosts": str(known), "wrong_known_hosts": str(wrong),
            "dir": d}


@pytest.fixture(scope="session")
def gridftp_alias(ssh_files):
    """A Host block for globus-url-copy's ssh, as Salt writes one per cluster profile.

    globus-url-copy runs /usr/bin/ssh ALIAS, which reads /etc/ssh/ssh_config.d/*.conf; a
    uniquely named file there is this session's alone and is removed afterwards.
    """
    alias = f"raycrafter-wtest-{random_secrets.token_hex(4)}"
    path = os.path.join(SSH_CONFIG_DIR, f"{alias}.conf")
    with open(path, "w") as f:
        f.write(f"Host {alias}\n  HostName {LOGIN_HOST}\n  Port 22\n  User {CLUSTER_USER}\n"
                f"  IdentityFile {ssh_files['key']}\n"
                f"  UserKnownHostsFile {ssh_files['known_hosts']}\n"
                "  StrictHostKeyChecking yes\n  IdentitiesOnly yes\n  BatchMode yes\n")
    yield alias
    os.unlink(path)


def ssh(ssh_files, command, check=True, port=22):
    """Run a command on the login node with OpenSSH (independent of the worker's code)."""
    result = subprocess.run(
        ["ssh", "-i", ssh_files["key"], "-o", f"UserKnownHostsFile={ssh_files['known_hosts']}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-p", str(port),
         f"{CLUSTER_USER}@{LOGIN_HOST}", command], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{command} failed: {result.stderr}")
    return result


@pytest.fixture
def login(ssh_files):
    return lambda command, check=True: ssh(ssh_files, command, check)


@pytest.fixture
def own_login_node(tmp_path, cluster_secrets):
    """Makes the login node's sshd on a port of this test's own, not started yet (a test may
    stop it under the worker), whose sessions run through ``force_command`` if given;
    ``.port`` and ``.known_hosts`` are for the profile."""
    made = []

    def make(force_command=None):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        directory = tmp_path / f"sshd-{port}"
        directory.mkdir()
        sshd = ThrowawaySshd(str(directory), port, force_command)
        sshd.known_hosts = str(directory / "known_hosts")
        with open(sshd.known_hosts, "w") as f:
            f.write(f"[127.0.0.1]:{port} {cluster_secrets['cluster_host_public_key']}\n")
        made.append(sshd)
        return sshd

    yield make
    for sshd in made:
        sshd.stop()


@pytest.fixture
def test_scratch(ssh_files):
    """A scratch directory of this test's own on the cluster, removed afterwards."""
    path = f"{SCRATCH_ROOT}/wtest-{random_secrets.token_hex(4)}"
    ssh(ssh_files, f"mkdir -p -m 0750 {shlex.quote(path)}")
    yield path
    ssh(ssh_files, f"rm -rf -- {shlex.quote(path)}", check=False)


@pytest.fixture
def batch_prefix(ssh_files):
    """This test's batch-name prefix; its batch jobs are cancelled at the end."""
    prefix = f"wt{random_secrets.token_hex(3)}-"
    yield prefix
    listing = ssh(ssh_files, "squeue --noheader --me --format='%i %j'", check=False).stdout
    ids = [line.split()[0] for line in listing.splitlines()
           if len(line.split()) == 2 and line.split()[1].startswith(prefix)]
    if ids:
        ssh(ssh_files, "scancel " + " ".join(ids), check=False)


@pytest.fixture
def profile_values(ssh_files, test_scratch, batch_prefix, gridftp_alias):
    """The raw [clusters.NAME] table of a Slurm profile; tests change keys as needed."""
    return {
        "login_host": LOGIN_HOST, "port": 22, "user": CLUSTER_USER,
        "key_file": ssh_files["key"], "known_hosts_file": ssh_files["known_hosts"],
        "scheduler": "slurm", "launcher": "srun", "queue": "batch", "walltime": "00:05:00",
        "nodes": 1, "scratch": test_scratch, "setup": ["export RAYCRAFTER_TEST_SETUP=1"],
        "nodeagent": f"{test_scratch}/bin/fake-agent", "agent_api_url": "https://api.invalid",
        "transfer": "gridftp", "gridftp_host": gridftp_alias, "batch_prefix": batch_prefix,
        "command_timeout_seconds": 60,
    }


def only_way(cluster, way):
    """``cluster`` moving every batch ``way``, its only measured way (files sent one by one
    go over SFTP if ``way`` has no such thing); nothing is probed."""
    ways = {(way, direction): WayCost(0, 0, 0) for direction in ("up", "down")}
    ways.setdefault(("sftp", "up"), WayCost(1, 0, 0))
    cluster.stager.set_costs(CostProfile(ways, "set by the test"))
    return cluster


@pytest.fixture
def make_cluster(tmp_path, profile_values):
    """Build a Cluster from the test's profile with some keys overridden."""
    made = []

    def make(name="stand-in", **overrides):
        profile = worker_config.parse_profile(name, {**profile_values, **overrides})
        cluster = Cluster(profile, str(tmp_path))
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.close()


FAKE_AGENT = r"""#!/bin/bash
# Stands in for raycrafter-nodeagent: records how it was started, sleeps, says its last
# words on stderr (if the test gave it any) and exits with the status the test chose.
job_dir=
token_file=
args=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
        --job-dir) job_dir=$2; shift ;;
        --token-file) token_file=$2; shift ;;
    esac
    shift
done
printf '%s\n' "${args[@]}" > "$job_dir/logs/agent-args"
printf '%s' "$RAYCRAFTER_JOB_NAME" > "$job_dir/logs/agent-job-name"
stat -c %a "$token_file" > "$job_dir/logs/agent-token-mode"
echo "setup=${RAYCRAFTER_TEST_SETUP:-unset} slurm=${SLURM_JOB_ID:-none}" > "$job_dir/logs/agent-env"
sleep "$(cat "$job_dir/../sleep-seconds" 2>/dev/null || echo 1)"
cat "$job_dir/../last-words" >&2 2>/dev/null
exit "$(cat "$job_dir/../exit-status" 2>/dev/null || echo 0)"
"""


@pytest.fixture
def fake_agent(login, test_scratch):
    """Install the stand-in agent at the profile's ``nodeagent`` path; returns a setter for
    how long it sleeps (seconds) in the jobs of this test."""
    login(f"mkdir -p {test_scratch}/bin {test_scratch}/raycrafter && "
          f"cat > {test_scratch}/bin/fake-agent <<'AGENT'\n{FAKE_AGENT}AGENT\n"
          f"chmod 0755 {test_scratch}/bin/fake-agent")

    def sleep_for(seconds):
        login(f"echo {int(seconds)} > {test_scratch}/raycrafter/sleep-seconds")

    sleep_for(1)
    return sleep_for
