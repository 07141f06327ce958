"""The kinds of site the stand-in cluster plays, each through the whole appliance: a job
renders through every scheduler front (Slurm itself, its PBS wrappers, PBS Professional,
Torque) and with Cray's aprun; in pull mode, with the worker's key refused by the
cluster's sshd; with compute nodes that cannot reach the API; and under a Slurm QOS whose
per-user limit is below the profile's own (salt/worker/defaults.yaml, standin_variants;
docs/sites.md).
"""
import os
import pathlib
import pwd
import re
import shutil
import subprocess

import pytest
import requests

from conftest import BASE_URL, CA_FILE, EXAMPLES, gelf_records, job_states
from support.appliance_services import pids_matching
from support.cluster_records import logged_completion_records
from support.no_way_out import NoWayOut

pytestmark = pytest.mark.e2e

SMALL = ("--frames", "1-2", "--width", 64, "--height", 48)
SCRATCH = pathlib.Path("/srv/raycrafter/scratch/raycrafter")
WORKER_TOKEN = pathlib.Path("/etc/raycrafter/api/worker.token")
WORKER_KEY = "/etc/raycrafter/worker/standin.key"
WORKER_KNOWN_HOSTS = "/etc/raycrafter/worker/standin.known_hosts"
AUTHORIZED_KEYS = pathlib.Path("/etc/ssh/authorized_keys/render")
NODE_AGENT = "/opt/raycrafter/nodeagent/bin/raycrafter-nodeagent"
WORKER_LOGS = pathlib.Path("/var/log/raycrafter")
STATES = ["pending", "staging", "submitted", "running", "collecting", "done"]


def worker_view(job_id):
    """The job as the worker sees it: its batch job's id among the rest."""
    response = requests.get(f"{BASE_URL}/api/v1/worker/jobs/{job_id}", timeout=30,
                            verify=CA_FILE, headers={
                                "Authorization": f"Bearer {WORKER_TOKEN.read_text().strip()}"})
    response.raise_for_status()
    return response.json()


def render_on(user, cluster, name, timeout=600):
    """Submit the example to ``cluster`` and wait until it is done; returns its id."""
    job_id = user.submit(EXAMPLES / "orbit", *SMALL, "--cluster", cluster, "--name", name)
    waited = user.cli("wait", job_id, timeout=timeout)
    assert waited.returncode == 0, (waited.stdout, waited.stderr, user.job(job_id))
    job = user.job(job_id)
    assert job["state"] == "done" and job["progress"]["done"] == 2
    assert job_states(user.events(job_id)) == STATES
    return job_id


def batch_script(job_id, attempt=1):
    return (SCRATCH / str(job_id) / "logs" / f"batch-{attempt}.sh").read_text()


# Each profile's batch system, and the form of its batch job ids.
BATCH_IDS = {
    "standin": r"\d+",                 # Slurm's qsub/qstat/qdel wrappers
    "standin-slurm": r"\d+",           # Slurm itself, with its accounting
    "standin-pbspro": r"\d+\.\S+",     # the PBS Professional front: NUMBER.SERVER
    "standin-torque": r"\d+\.\S+",     # the Torque front
}


@pytest.mark.parametrize("cluster", list(BATCH_IDS))
def test_a_job_renders_through_each_scheduler_the_standin_shows(researcher, cluster):
    job_id = render_on(researcher, cluster, f"e2e {cluster}")
    assert re.fullmatch(BATCH_IDS[cluster], worker_view(job_id)["batch_job_id"])
    assert len(logged_completion_records(job_id)) == 1
    assert "srun --nodes=1" in batch_script(job_id)


def test_a_job_renders_with_aprun_on_a_cray_like_site(researcher):
    job_id = render_on(researcher, "standin-aprun", "e2e aprun")
    script = batch_script(job_id)
    assert "fronts/alps/bin:$PATH" in script and "aprun -n 1 -N 1 -d 1 -cc depth" in script
    assert re.fullmatch(r"\d+\.\S+", worker_view(job_id)["batch_job_id"])


@pytest.fixture
def workers_key_refused():
    """The cluster's sshd refuses the worker's key for the test (it is taken out of the
    cluster user's authorized keys), and takes it again afterwards."""
    kept = AUTHORIZED_KEYS.read_bytes()
    mode = AUTHORIZED_KEYS.stat().st_mode & 0o777
    worker_key = subprocess.run(["ssh-keygen", "-y", "-f", WORKER_KEY], capture_output=True,
                                text=True, check=True).stdout.split()[1]
    AUTHORIZED_KEYS.write_bytes(b"".join(line for line in kept.splitlines(keepends=True)
                                         if worker_key.encode() not in line))
    try:
        yield
    finally:
        AUTHORIZED_KEYS.write_bytes(kept)
        AUTHORIZED_KEYS.chmod(mode)


def test_a_job_renders_in_pull_mode_with_the_workers_key_refused(researcher,
                                                               workers_key_refused):
    login = subprocess.run(
        ["ssh", "-i", WORKER_KEY, "-o", f"UserKnownHostsFile={WORKER_KNOWN_HOSTS}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
         "render@127.0.0.1", "true"], capture_output=True, text=True, timeout=60)
    assert login.returncode == 255 and "Permission denied" in login.stderr, login.stderr
    job_id = render_on(researcher, "standin-pull", "e2e pull mode")
    actors = {event["actor"] for event in researcher.events(job_id) if event["frame"] is None}
    assert "site:standin-pull" in actors and "worker" not in actors
    assert len(logged_completion_records(job_id)) == 1
    site_agents = pids_matching("bin/raycrafter-siteagent")
    assert site_agents and {os.stat(f"/proc/{pid}").st_uid for pid in site_agents} == {
        pwd.getpwnam("render").pw_uid}


@pytest.fixture
def stranded_job_dir():
    """A job folder the cluster user owns, for an agent that never gets further than its
    first call; removed afterwards."""
    user = pwd.getpwnam("render")
    job_dir = pathlib.Path(f"/srv/raycrafter/scratch/e2e-stranded-{os.getpid()}")
    (job_dir / "input").mkdir(parents=True, exist_ok=True)
    token = job_dir / "agent.token"
    token.write_text("x" * 43)
    token.chmod(0o600)
    for path in (job_dir, job_dir / "input", token):
        os.chown(path, user.pw_uid, user.pw_gid)
    yield job_dir
    shutil.rmtree(job_dir, ignore_errors=True)


def test_a_compute_node_without_a_way_out_renders_through_the_login_nodes_gateway(
        researcher, stranded_job_dir):
    """The batch jobs' user may reach neither the API (443) nor the log server (12201) but
    from the login node's own route (support/no_way_out.py): an agent started as it
    without the gateway gives up, and a job of the gateway's profile renders, its records
    reaching the log server through the gateway too."""
    render = pwd.getpwnam("render")
    with NoWayOut([443, 12201], uid=render.pw_uid):
        stranded = subprocess.run(
            ["runuser", "-u", "render", "--", NODE_AGENT, "--api-url", BASE_URL, "--ca-file",
             CA_FILE, "--job-id", "1", "--job-dir", str(stranded_job_dir),
             "--max-api-outage", "3"], capture_output=True, text=True, timeout=120)
        assert stranded.returncode == 4, stranded.stderr  # exit_codes.API_UNREACHABLE
        assert "Connection refused" in stranded.stderr
        job_id = render_on(researcher, "standin-gateway", "e2e no way out")
    assert "--api-connect-to" in batch_script(job_id)
    frames_logged = {int(r["_frame"]) for r in gelf_records(job_id) if "_frame" in r}
    assert frames_logged == {1, 2}


@pytest.fixture
def qos_of_one_job():
    """A real Slurm QOS that lets the cluster user have one job submitted at a time, on
    its association for the test; its QOS is given back afterwards."""
    name = f"e2e-one-{os.getpid()}"
    before = subprocess.run(["sacctmgr", "-n", "-P", "list", "association", "user=render",
                             "format=qos,defaultqos"], capture_output=True, text=True,
                            check=True).stdout.split()[0].split("|")
    subprocess.run(["sacctmgr", "-i", "add", "qos", name, "MaxSubmitJobsPerUser=1"],
                   check=True, capture_output=True)
    try:
        subprocess.run(["sacctmgr", "-i", "modify", "user", "render", "set", f"QOS={name}",
                        f"DefaultQOS={name}"], check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["sacctmgr", "-i", "modify", "user", "render", "set",
                        f"QOS={before[0] or 'normal'}", f"DefaultQOS={before[1] or 'normal'}"],
                       capture_output=True)
        subprocess.run(["sacctmgr", "-i", "delete", "qos", name], capture_output=True)


def test_a_schedulers_limit_below_the_profiles_makes_jobs_wait_never_fail(researcher,
                                                                         qos_of_one_job):
    """standin-qos allows three batch jobs at once; Slurm's QOS allows one. Slurm really
    refuses the second submission (QOSMaxSubmitJobPerUserLimit); the jobs wait their turn
    and every one completes, each with one batch job."""
    logged_before = {path: path.stat().st_size
                     for path in WORKER_LOGS.glob("raycrafter-worker-*.log")}
    job_ids = [researcher.submit(EXAMPLES / "orbit", *SMALL, "--cluster", "standin-qos",
                                 "--name", f"e2e qos {n}") for n in range(3)]
    for job_id in job_ids:
        waited = researcher.cli("wait", job_id, timeout=900)
        assert waited.returncode == 0, (waited.stderr, researcher.job(job_id))
        assert len(logged_completion_records(job_id)) == 1
    refusals = ""
    for path in WORKER_LOGS.glob("raycrafter-worker-*.log"):
        with path.open(errors="replace") as log:
            log.seek(logged_before.get(path, 0))
            refusals += log.read()
    assert "QOSMaxSubmitJobPerUserLimit" in refusals
