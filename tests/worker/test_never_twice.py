"""Never twice, for any number of workers: three worker processes share one queue, every
command is delivered more than once, the login node's scheduler is so slow that SSH
commands time out around ``sbatch``/``qsub``, and workers are killed with SIGKILL at each
step of a job's way. Slurm's records must show exactly one batch job per recorded attempt,
and every job ends done with its frames.

Everything here is real: the API (on a throwaway PostgreSQL) and its outbox relay and
reconciler, a throwaway RabbitMQ, the cluster role's Slurm with its PBS wrappers, the real
node agent rendering with POV-Ray. Only the login node's sshd is a throwaway one whose
sessions start late and find a slow ``sbatch`` and ``qsub`` first on their PATH.
"""
import collections
import random
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from support.api_server import ApiServer, create_user, ensure_worker_token, write_config
from support.cluster_records import completion_names
from support.polling import wait_for
from support.postgres import ThrowawayPostgres
from support.worker_harness import (ThrowawaySshd, WorkerProcess, prepare_queue, publish,
                                    write_worker_config)
from test_worker_flow import broker  # noqa: F401  (a fixture, used by name)

CLUSTERS = ("slurm", "pbs-wrappers")
JOBS = 8                 # four per scheduler
FRAMES = 2
# The first two jobs lose their batch job while it runs (a node failure); they have
# frames enough to be still rendering when that happens.
ENDED_EARLY, ENDED_EARLY_FRAMES = 2, 12
WORKERS = 3
COMMAND_TIMEOUT = 3      # seconds; the slow scheduler takes 0-8 s around its real work
NODE_AGENT = "/opt/raycrafter/nodeagent/bin/raycrafter-nodeagent"
SCENE = b"""#version 3.7;
camera { location <0, 1, -4> look_at <0, 0.5, 0> }
light_source { <3, 5, -3> color rgb 1 }
sphere { <0, 0.5, 0>, 0.5 + clock * 0.2 pigment { color rgb <1, 0.4, 0.1> } }
plane { y, 0 pigment { checker color rgb 1 color rgb 0.2 } }
"""

# A scheduler that takes its time on both sides of the real work, as a busy login node
# does: the SSH command that runs it always times out (3 s) before it returns, sometimes
# before the scheduler has seen the script at all.
SLOW_SCHEDULER = r"""#!/bin/bash
sleep "$(( RANDOM % 4 )).$(( RANDOM % 10 ))"
"REAL" "$@"
status=$?
sleep "3.$(( RANDOM % 10 ))"
exit $status
"""

# Every session of the throwaway sshd runs the requested command through this, a moment
# late as on a busy login node: a job's way through the worker is then slow enough for
# the killer below to catch it at each step (staging in takes a few commands).
SESSION = """#!/bin/bash
sleep "0.$(( RANDOM % 5 ))"
export PATH=SLOWBIN:$PATH
exec /bin/bash -c "$SSH_ORIGINAL_COMMAND"
"""

# The steps of a job's way at which a worker is killed, by the log line that starts each.
STEPS = {
    "staging": re.compile(r"job \d+: staging its scene in"),
    "recording an attempt": re.compile(r"job \d+: attempt \d+ (recorded|resumed)"),
    "submitting": re.compile(r"handing \S+ to the scheduler"),
    "collecting": re.compile(r"job \d+: collecting \d+ frame"),
}
KILLS_PER_STEP = 2


@pytest.fixture(scope="module")
def postgres():
    server = ThrowawayPostgres().start()
    yield server
    server.stop()


@pytest.fixture
def api(tmp_path, postgres, broker):  # noqa: F811
    database = f"nevertwice{secrets.token_hex(4)}"
    config = write_config(
        tmp_path / "api.toml", database_url=postgres.create_database(database),
        data_dir=str(tmp_path / "api-data"), clusters=list(CLUSTERS),
        default_cluster=CLUSTERS[0], max_submissions=3, amqp_url=broker.admin_url,
        # The reconciler sends a job's command again soon: more duplicate deliveries.
        reconcile_after_seconds={"pending": 10, "staging": 15, "collecting": 15},
        reconcile_interval_seconds=2.0, relay_poll_seconds=0.2)
    with ApiServer(config) as server:
        server.config = config
        server.worker_token = ensure_worker_token(config)
        server.token_file = str(tmp_path / "worker.token")
        server.user = requests.Session()
        server.user.headers["Authorization"] = f"Bearer {create_user(config, 'alice')}"
        relay_log = open(tmp_path / "relay.log", "ab")
        relay = subprocess.Popen([sys.executable, "-m", "raycrafter_api.outbox.relay",
                                  "--config", config], stdout=relay_log, stderr=subprocess.STDOUT)
        relay_log.close()
        try:
            yield server
        finally:
            relay.terminate()
            relay.wait(timeout=30)
    postgres.drop_database(database)


@pytest.fixture
def slow_login_node(tmp_path, login, test_scratch, cluster_secrets):
    """A login node on a port of its own whose sbatch and qsub are slow; returns
    (port, known_hosts file)."""
    slowbin = f"{test_scratch}/slowbin"
    commands = [f"mkdir -p {slowbin}"]
    for name in ("sbatch", "qsub"):
        script = SLOW_SCHEDULER.replace("REAL", shutil.which(name))
        commands.append(f"cat > {slowbin}/{name} <<'SCRIPT'\n{script}SCRIPT\n"
                        f"chmod 0755 {slowbin}/{name}")
    session = f"{test_scratch}/session"
    commands.append(f"cat > {session} <<'SCRIPT'\n{SESSION.replace('SLOWBIN', slowbin)}"
                    f"SCRIPT\nchmod 0755 {session}")
    login("\n".join(commands))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    known = tmp_path / "known_hosts_slow"
    known.write_text(f"[127.0.0.1]:{port} {cluster_secrets['cluster_host_public_key']}\n")
    sshd = ThrowawaySshd(str(tmp_path), port, force_command=session).start()
    yield port, str(known)
    sshd.stop()


class Workers:
    """WORKERS worker processes on one config; a killed one is replaced at once."""

    def __init__(self, tmp_path, config):
        self.tmp_path, self.config = tmp_path, config
        self.started = 0
        self.running = []
        self.guard = threading.Lock()

    def start(self):
        log = str(self.tmp_path / f"worker-{self.started}.log")
        self.started += 1
        worker = WorkerProcess(self.config, log).start()
        worker.seen = collections.Counter()
        self.running.append(worker)
        return worker

    def kill_and_replace(self, worker):
        with self.guard:
            worker.kill()
            self.running.remove(worker)
            self.start()

    def logs(self):
        return "".join(open(self.tmp_path / f"worker-{n}.log", errors="replace").read()
                       for n in range(self.started))

    def stop(self):
        for worker in self.running:
            worker.stop()


class Killer(threading.Thread):
    """SIGKILLs the worker that just logged the start of a step, KILLS_PER_STEP times per
    step, a moment later (0-1.5 s), so the kill lands somewhere inside that step."""

    def __init__(self, workers):
        super().__init__(daemon=True)
        self.workers = workers
        self.kills = collections.Counter()
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.wait(0.2):
            for worker, step in self._starting_steps():
                time.sleep(random.uniform(0, 1.5))
                self.kills[step] += 1
                self.workers.kill_and_replace(worker)

    def _starting_steps(self):
        """(worker, step) for each step still to be killed that a worker began since the
        last look; a worker appears once at most."""
        found = []
        for worker in list(self.workers.running):
            log = worker.log()
            for step, pattern in STEPS.items():
                count = len(pattern.findall(log))
                began = count > worker.seen[step]
                worker.seen[step] = count
                if began and self.kills[step] + sum(s == step for _, s in found) < KILLS_PER_STEP:
                    found.append((worker, step))
                    break
        return found


def queued_names(login, prefix):
    listing = login("squeue --noheader --me --format='%j'").stdout.split()
    return [name for name in listing if name.startswith(prefix)]


def test_three_workers_with_duplicates_timeouts_and_kills_submit_each_attempt_once(
        tmp_path, api, broker, login, profile_values, slow_login_node, batch_prefix,  # noqa: F811
        test_scratch):
    port, known_hosts = slow_login_node
    profile = {**profile_values, "port": port, "known_hosts_file": known_hosts,
               "transfer": "sftp", "nodeagent": NODE_AGENT, "agent_api_url": api.base,
               "command_timeout_seconds": COMMAND_TIMEOUT, "setup": []}
    config = write_worker_config(
        tmp_path / "worker.toml",
        {"api_url": api.base, "api_token_file": api.token_file,
         "amqp_url": broker.worker_url, "poll_interval_seconds": 1, "prefetch": 2,
         "lost_grace_seconds": 60, "retry_limit_seconds": 60},
        {name: {**profile, "scheduler": name, "launcher": "srun"} for name in CLUSTERS})
    prepare_queue(broker.admin_url)
    workers = Workers(tmp_path, config)
    for _ in range(WORKERS):
        workers.start()
    killer = Killer(workers)
    killer.start()
    try:
        jobs = []
        for n in range(JOBS):
            response = api.user.post(
                f"{api.url}/jobs", files={"scene": ("scene.pov", SCENE)},
                data={"name": f"never twice {n}", "width": "32",
                      "frames": f"1-{ENDED_EARLY_FRAMES if n < ENDED_EARLY else FRAMES}",
                      "height": "24", "cluster": CLUSTERS[n % 2]})
            assert response.status_code == 201, response.text
            jobs.append(response.json())
        for job in jobs:  # the relay sends each once; these are the duplicates
            for _ in range(2):
                publish(broker.admin_url, "submit", job["id"], job["cluster"])

        def views():
            return {job["id"]: api.user.get(f"{api.url}/jobs/{job['id']}").json()
                    for job in jobs}

        # Attempts are recorded again for the jobs that lose their batch job, while
        # workers are killed around them.
        ended_early = set()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            now = views()
            if all(view["state"] in ("done", "failed", "cancelled") for view in now.values()):
                break
            for job in jobs[:ENDED_EARLY]:
                view = now[job["id"]]
                if job["id"] not in ended_early and view["state"] == "running" \
                        and view["progress"]["done"] < ENDED_EARLY_FRAMES // 2:
                    batch = worker_view(api, job["id"])["batch_job_id"]
                    login(f"scancel {shlex.quote(batch)}")
                    ended_early.add(job["id"])
            time.sleep(1)
        killer.stopping.set()
        killer.join(timeout=30)
        now = {job_id: view["state"] for job_id, view in views().items()}
        assert set(now.values()) == {"done"}, (now, workers.logs()[-20000:])
    finally:
        killer.stopping.set()
        workers.stop()

    assert ended_early == {job["id"] for job in jobs[:ENDED_EARLY]}
    # The faults really happened: a kill at every step, SSH timeouts around the scheduler.
    assert all(killer.kills[step] == KILLS_PER_STEP for step in STEPS), killer.kills
    assert "did not finish within" in workers.logs()

    # Slurm's records: exactly one batch job per recorded attempt, none left in the queue.
    attempts = {job["id"]: worker_view(api, job["id"])["submit_attempt"] for job in jobs}
    assert all(attempts[job_id] >= 2 for job_id in ended_early), attempts
    expected = collections.Counter({f"{batch_prefix}rc-{job_id}-a{n}": 1
                                    for job_id, count in attempts.items()
                                    for n in range(1, count + 1)})
    wait_for(lambda: completion_names(batch_prefix) == expected
             or sum(completion_names(batch_prefix).values()) > sum(expected.values()),
             timeout=60, interval=1, message="Slurm's completion record of every batch job")
    assert completion_names(batch_prefix) == expected
    assert queued_names(login, batch_prefix) == []

    for job in jobs:  # every frame arrived, rendered
        for number in range(job["frames"]["first"], job["frames"]["last"] + 1):
            image = api.user.get(f"{api.url}/jobs/{job['id']}/frames/{number}")
            assert image.status_code == 200 and image.content.startswith(b"\x89PNG")


def worker_view(api, job_id):
    return requests.get(f"{api.url}/worker/jobs/{job_id}",
                        headers={"Authorization": f"Bearer {api.worker_token}"}).json()
