"""Pull mode: the site agent on the login node, as the cluster's user, asks the API for its
cluster's work and does the worker's part with the worker's code, with no connection from
outside to the cluster at all.

Real: the API (SQLite) as a process, the cluster role's Slurm, the cluster user
``render``, the node agent rendering with POV-Ray. The site agent runs as ``render`` from a
copy of the worker's and the contract's packages that the cluster user can read (the
checkout may be in root's home).
"""
import collections
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest
import requests

import raycrafter_contract
import raycrafter_worker
from support.api_server import (ApiServer, admin, create_user, ensure_site_token,
                                write_config)
from support.cluster_records import logged_completion_names
from support.polling import wait_for
from support.worker_harness import write_worker_config

NODE_AGENT = "/opt/raycrafter/nodeagent/bin/raycrafter-nodeagent"
CLUSTER_USER = "render"
SCENE = b"""#version 3.7;
camera { location <0, 1, -4> look_at <0, 0.5, 0> }
light_source { <3, 5, -3> color rgb 1 }
sphere { <0, 0.5, 0>, 0.5 + clock * 0.2 pigment { color rgb <0.2, 0.5, 1> } }
"""


@pytest.fixture
def api(tmp_path):
    """The API with two clusters in pull mode, north and south, and a site token each."""
    config = write_config(tmp_path / "api.toml", database_url=f"sqlite:///{tmp_path}/api.db",
                          data_dir=str(tmp_path / "api-data"), clusters=["north", "south"],
                          default_cluster="north", pull_clusters=["north", "south"],
                          max_submissions=2, reconcile_after_seconds={"staging": 30})
    with ApiServer(config) as server:
        server.config = config
        server.site_tokens = {name: ensure_site_token(config, name)
                              for name in ("north", "south")}
        server.user = requests.Session()
        server.user.headers["Authorization"] = f"Bearer {create_user(config, 'alice')}"
        yield server


@pytest.fixture
def cluster_home():
    """A folder the cluster user owns, for the site agents' copy of the code, their
    configurations, tokens, locks and working folders; removed afterwards."""
    home = tempfile.mkdtemp(prefix="rc-siteagent-")
    os.chmod(home, 0o755)
    code = os.path.join(home, "code")
    for package in (raycrafter_worker, raycrafter_contract):
        source = os.path.dirname(package.__file__)
        shutil.copytree(source, os.path.join(code, os.path.basename(source)),
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.chown(home, CLUSTER_USER, CLUSTER_USER)
    yield home
    shutil.rmtree(home, ignore_errors=True)


class SiteAgent:
    """One raycrafter-siteagent process, run as the cluster user."""

    def __init__(self, home, name, config_path):
        self.name = name
        self.config_path = config_path
        self.log_path = os.path.join(home, f"{name}.log")
        self.home = home
        self.process = None

    def start(self):
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            ["runuser", "-u", CLUSTER_USER, "--", "env", f"TMPDIR={self.home}/tmp",
             f"PYTHONPATH={self.home}/code", f"HOME={self.home}", sys.executable, "-m",
             "raycrafter_worker.site_agent", "--config", self.config_path,
             "--log-level", "DEBUG"], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(lambda: f"site agent of cluster {self.name} started" in self.log(),
                 timeout=30, message=f"the site agent of {self.name} starting")
        return self

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def _signal(self, signum):
        """To the site agent itself, which runuser started as its child."""
        for child in children(self.process.pid):
            os.kill(child, signum)

    def kill(self):
        """SIGKILL, as a login node's watchdog ends a process."""
        self._signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except OSError:
        return []


@pytest.fixture
def site_agents(api, cluster_home, test_scratch, batch_prefix):
    """Starts the site agent of a cluster, with this test's scratch and batch prefix."""
    started = []
    os.makedirs(f"{cluster_home}/tmp", exist_ok=True)
    shutil.chown(f"{cluster_home}/tmp", CLUSTER_USER, CLUSTER_USER)

    def start(name, profile=None, **settings):
        token_file = os.path.join(cluster_home, f"{name}.token")
        if not os.path.exists(token_file):
            write_owned(token_file, api.site_tokens[name])
        config = write_worker_config(
            pathlib.Path(cluster_home, f"{name}.toml"),
            {"api_url": api.base, "api_token_file": token_file, "poll_interval_seconds": 1,
             "command_poll_seconds": 1, "lost_grace_seconds": 10, "retry_limit_seconds": 60,
             "lock_file": os.path.join(cluster_home, f"{name}.lock"), **settings},
            {name: {"access": "pull", "scheduler": "slurm", "launcher": "srun",
                    "queue": "batch", "walltime": "00:05:00", "scratch": test_scratch,
                    "nodeagent": NODE_AGENT, "agent_api_url": api.base,
                    "batch_prefix": f"{batch_prefix}{name}-", "command_timeout_seconds": 60,
                    **(profile or {})}})
        shutil.chown(config, CLUSTER_USER, CLUSTER_USER)
        agent = SiteAgent(cluster_home, name, config).start()
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()


def write_owned(path, text):
    """A file of the cluster user's, readable by it alone."""
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)
    shutil.chown(path, CLUSTER_USER, CLUSTER_USER)


def create_job(api, frames="1-2", cluster=None):
    data = {"name": "pulled", "frames": frames, "width": "48", "height": "32"}
    if cluster:
        data["cluster"] = cluster
    response = api.user.post(f"{api.url}/jobs", files={"scene": ("scene.pov", SCENE)},
                             data=data)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def job_of(api, job_id):
    return api.user.get(f"{api.url}/jobs/{job_id}").json()


def wait_done(api, job_ids, timeout=240):
    def every_done():
        states = {job_id: job_of(api, job_id)["state"] for job_id in job_ids}
        failed = {job_id: job_of(api, job_id)["error"] for job_id, state in states.items()
                  if state in ("failed", "cancelled")}
        assert not failed, failed
        return all(state == "done" for state in states.values())
    wait_for(every_done, timeout=timeout, interval=1, message=f"jobs {job_ids} done")


def events(api, job_id):
    return api.user.get(f"{api.url}/jobs/{job_id}/events?limit=500").json()["events"]


def test_a_job_renders_in_pull_mode(api, site_agents, batch_prefix):
    site_agents("north")
    job_id = create_job(api, frames="1-3")
    wait_done(api, [job_id])
    frame = api.user.get(f"{api.url}/jobs/{job_id}/frames/2")
    assert frame.status_code == 200 and frame.content.startswith(b"\x89PNG")
    moves = [(e["actor"], e["to"]) for e in events(api, job_id) if e["frame"] is None]
    assert ("site:north", "submitted") in moves and ("site:north", "done") in moves
    assert logged_completion_names(batch_prefix, 1) == {f"{batch_prefix}north-rc-{job_id}-a1": 1}


@pytest.fixture
def slow_sbatch(cluster_home):
    """A directory of Slurm's commands whose sbatch answers 5 s after Slurm accepted the
    job, as a busy login node's may."""
    directory = os.path.join(cluster_home, "slurm-bin")
    os.makedirs(directory)
    for name in ("squeue", "sacct", "scancel"):
        os.symlink(shutil.which(name), os.path.join(directory, name))
    with open(os.path.join(directory, "sbatch"), "w") as f:
        f.write(f"#!/bin/bash\n{shutil.which('sbatch')} \"$@\"\ns=$?\nsleep 5\nexit $s\n")
    os.chmod(os.path.join(directory, "sbatch"), 0o755)
    return directory


def test_killed_and_started_again_it_submits_each_attempt_once(api, site_agents,
                                                               batch_prefix, slow_sbatch,
                                                               login):
    """Killed as a login node's watchdog kills (SIGKILL) after Slurm took the batch job
    but before sbatch answered: started again, it finds the attempt's marker and its
    batch job in the queue, adopts it, and the job renders."""
    agent = site_agents("north", {"scheduler_bin_dir": slow_sbatch})
    job_id = create_job(api)
    name = f"{batch_prefix}north-rc-{job_id}-a1"
    wait_for(lambda: name in login("squeue --noheader --me --format=%j").stdout,
             timeout=90, interval=0.1, message="the batch job in the queue")
    agent.kill()
    assert "submitted" not in [e["to"] for e in events(api, job_id)]
    site_agents("north", {"scheduler_bin_dir": slow_sbatch})
    wait_done(api, [job_id])
    assert logged_completion_names(batch_prefix, 1) == {name: 1}


def test_a_second_site_agent_of_the_same_cluster_leaves_it_to_the_first(api, site_agents,
                                                                       cluster_home):
    agent = site_agents("north")
    again = subprocess.run(["runuser", "-u", CLUSTER_USER, "--", "env",
                            f"PYTHONPATH={cluster_home}/code", sys.executable, "-m",
                            "raycrafter_worker.site_agent", "--config", agent.config_path],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0
    assert "another site agent holds" in again.stderr and agent.process.poll() is None




def test_two_clusters_share_open_jobs_a_few_at_a_time(api, site_agents, batch_prefix):
    """Six jobs leave their cluster open. Each cluster may run one batch job at a time and
    takes an open job only while none of its own waits to be submitted, so neither can
    take them all: both render some, and each job is taken by one."""
    job_ids = [create_job(api, frames="1", cluster="any") for _ in range(6)]
    site_agents("north", {"max_queued_jobs": 1}, open_jobs=1)
    site_agents("south", {"max_queued_jobs": 1}, open_jobs=1)
    wait_done(api, job_ids)
    taken_by = collections.Counter(job_of(api, job_id)["cluster"] for job_id in job_ids)
    assert set(taken_by) == {"north", "south"}, taken_by
    names = logged_completion_names(batch_prefix, 6)
    assert sum(names.values()) == 6 and set(names.values()) == {1}
    for job_id in job_ids:
        cluster = job_of(api, job_id)["cluster"]
        assert names[f"{batch_prefix}{cluster}-rc-{job_id}-a1"] == 1


def test_it_keeps_under_its_profiles_queue_limit(api, site_agents, batch_prefix, login):
    site_agents("north", {"max_queued_jobs": 1})
    job_ids = [create_job(api, frames="1-2") for _ in range(3)]
    most = 0

    def done_watching_the_queue():
        nonlocal most
        queued = login("squeue --noheader --me --format='%j'").stdout.split()
        most = max(most, sum(name.startswith(batch_prefix) for name in queued))
        return all(job_of(api, job_id)["state"] == "done" for job_id in job_ids)
    wait_for(done_watching_the_queue, timeout=300, interval=0.5, message="every job done")
    assert most == 1
    assert sum(logged_completion_names(batch_prefix, 3).values()) == 3


def test_a_replaced_token_is_read_again_after_the_api_refuses_the_old_one(
        api, site_agents, cluster_home, tmp_path):
    """The operator replaces the site agent's token while its job runs: the API refuses
    the old one (401), the site agent reads its file again and the job still renders."""
    agent = site_agents("north")
    job_id = create_job(api, frames="1-4")
    wait_for(lambda: job_of(api, job_id)["state"] in ("submitted", "running"), timeout=90,
             message="the job submitted")
    replacement = tmp_path / "north.token"
    replacement.write_text(os.urandom(32).hex())
    admin(api.config, "site-token", "ensure", "--cluster", "north", "--token-file",
          str(replacement))
    write_owned(os.path.join(cluster_home, "north.token"), replacement.read_text())
    wait_done(api, [job_id])
    assert "using the new one in" in agent.log()
