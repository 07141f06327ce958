"""Submit to first frame through the appliance against Slurm's own submit-to-start (not a
test; prints figures).

    /opt/raycrafter/test/bin/python bench/first_frame_latency.py [--runs 5]
        [--frames 48] [--poll-interval 5]

Each run measures, side by side on the same stand-in cluster:

- Slurm by hand: ``sbatch --wrap`` of a trivial batch job as the cluster user, over the
  worker's kind of SSH connection (paramiko), from the call to the moment its script starts
  (the script writes the time);
- the appliance: from ``POST /api/v1/jobs`` of ``examples/orbit`` (``--frames`` frames,
  320x240) to the first frame *leased* by a node agent (its rendering starts), *done*
  (rendered and reported) and *downloadable* (``GET /jobs/ID/frames/N`` serves its image),
  and whether the batch job still rendered other frames then. The worker's log adds where
  the time went: until the worker takes the command (API, outbox relay, RabbitMQ), the
  worker's submission, and from the report to the first lease (Slurm, srun, the agent's
  start and first claim).

The goal (issue "Render exactly what POV-Ray renders, as fast as rendering it by hand"):
submit to first frame rendering within Slurm's submit-to-start plus 1 s.

Everything but Slurm, sshd and POV-Ray is this checkout's: a throwaway API on a throwaway
PostgreSQL with its outbox relay (``relay_poll_seconds`` as deployed), a throwaway RabbitMQ,
the worker (poll interval ``--poll-interval``: it decides when done frames are brought in),
and the node agent, run by the cluster user under srun with the Python of the cluster's
deployed agent (standard library and graypy). Runs as root like tests/worker; every batch
job it makes is cancelled at the end.
"""
import argparse
import datetime
import os
import pathlib
import re
import secrets
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import requests

from bench_cluster import bench_cluster
from support.api_server import ApiServer, create_user, ensure_worker_token, write_config
from support.polling import wait_for
from support.postgres import ThrowawayPostgres
from support.rabbitmq import ThrowawayRabbitMQ
from support.worker_harness import WorkerProcess, prepare_queue, write_worker_config

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
SCENE = REPOSITORY / "examples" / "orbit" / "scene.pov"
AGENT_PYTHON = "/opt/raycrafter/nodeagent/bin/python"
GOAL_SECONDS = 1.0
# Slurm starts a batch job submitted within about 3 s of its last scheduling pass only at
# its next one (the second of two trivial jobs a second apart starts ~3 s after its
# sbatch, the first ~1 s): each side is submitted to a scheduler that was quiet as long.
SETTLE_SECONDS = 5
POLL_SECONDS = 0.02
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*?: (.*)$")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--poll-interval", type=float, default=5.0,
                        help="the worker's poll interval, seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rc-bench-") as tmp, \
            bench_cluster(pathlib.Path(tmp)) as (profile, cluster):
        install_agent(cluster, profile["nodeagent"])
        profile = {**profile, "walltime": "00:10:00"}
        with Appliance(pathlib.Path(tmp), profile, cluster, args.poll_interval) as appliance:
            rows = []
            for run in range(1, args.runs + 1):
                time.sleep(SETTLE_SECONDS)
                hand = by_hand(cluster, profile)
                time.sleep(SETTLE_SECONDS)
                row = appliance.first_frame(args.frames)
                rows.append({"hand": hand, **row})
                print_row(run, rows[-1])
    summary(rows)


def install_agent(cluster, path):
    """The node agent of this checkout, started as the deployed one is: compiled ahead (as
    pip compiles what it installs), with the deployed agent's Python."""
    sources = [str(REPOSITORY / "nodeagent"), str(REPOSITORY / "contract")]
    subprocess.run([AGENT_PYTHON, "-m", "compileall", "-q", *sources], check=True,
                   env=dict(os.environ, PYTHONDONTWRITEBYTECODE=""))
    wrapper = (f"#!/bin/sh\nPYTHONPATH={shlex.quote(':'.join(sources))} exec {AGENT_PYTHON} "
               f"-m raycrafter_nodeagent \"$@\"\n")
    quoted = shlex.quote(path)
    cluster.run_checked(f"cat > {quoted} && chmod 0755 {quoted}", "installing the agent",
                        stdin=wrapper)


def by_hand(cluster, profile):
    """Seconds from sbatch to the start of a trivial batch job's script; it asks for what
    the appliance's batch jobs ask for."""
    stamp = f"{profile['scratch']}/started-{secrets.token_hex(4)}"
    wrap = f"date +%s.%N > {stamp}"
    command = shlex.join(["sbatch", "--parsable", "-J", f"{profile['batch_prefix']}by-hand",
                          "-o", "/dev/null", "-t", profile["walltime"], "-N", "1",
                          "--wrap", wrap])
    called = time.time()
    cluster.run_checked(command, "sbatch by hand")
    started = wait_for(lambda: cluster.run(f"cat {stamp} 2>/dev/null").stdout.strip(),
                       timeout=300, interval=POLL_SECONDS, message="the batch job by hand")
    return float(started) - called


class Appliance:
    """The API with its relay, RabbitMQ and the worker, for the runs of one bench."""

    def __init__(self, tmp, profile, cluster, poll_interval):
        self.tmp, self.profile, self.cluster = tmp, profile, cluster
        self.poll_interval = poll_interval
        self.started = []

    def __enter__(self):
        self.postgres = self._start(ThrowawayPostgres().start(), "stop")
        self.broker = self._start(ThrowawayRabbitMQ().start(), "destroy")
        password = secrets.token_hex(8)
        self.broker.add_user("worker", password, ".*", ".*", ".*")
        prepare_queue(self.broker.admin_url)
        config = write_config(self.tmp / "api.toml",
                              database_url=self.postgres.create_database("bench"),
                              data_dir=str(self.tmp / "data"), clusters=["bench"],
                              default_cluster="bench", amqp_url=self.broker.admin_url)
        self.api = self._start(ApiServer(config).start(), "stop")
        ensure_worker_token(config)
        self.user = requests.Session()
        self.user.headers["Authorization"] = f"Bearer {create_user(config, 'bench')}"
        relay_log = open(self.tmp / "relay.log", "ab")
        self.relay = self._start(subprocess.Popen(
            [sys.executable, "-m", "raycrafter_api.outbox.relay", "--config", config],
            stdout=relay_log, stderr=subprocess.STDOUT), "terminate")
        relay_log.close()
        worker_config = write_worker_config(self.tmp / "worker.toml", {
            "api_url": self.api.base, "api_token_file": str(self.tmp / "worker.token"),
            "amqp_url": self.broker.url("worker", password),
            "poll_interval_seconds": self.poll_interval},
            {"bench": {**self.profile, "agent_api_url": self.api.base}})
        self.worker = self._start(WorkerProcess(worker_config, str(self.tmp / "worker.log"))
                                  .start(), "stop")
        return self

    def _start(self, thing, stop):
        self.started.append(getattr(thing, stop))
        return thing

    def __exit__(self, *exc):
        for stop in reversed(self.started):
            stop()

    def first_frame(self, frames):
        """Seconds from the submission to the first frame leased, done and downloadable,
        and how far the worker had got meanwhile."""
        with open(SCENE, "rb") as scene:
            posted = time.time()
            answer = self.user.post(f"{self.api.url}/jobs", files={"scene": ("scene.pov", scene)},
                                    data={"name": "first frame", "frames": f"1-{frames}",
                                          "width": "320", "height": "240"})
        answer.raise_for_status()
        job_id = answer.json()["id"]
        seen = {}
        while "downloadable" not in seen:
            listing = self.user.get(f"{self.api.url}/jobs/{job_id}/frames",
                                    params={"limit": frames}).json()["frames"]
            now = time.time() - posted
            states = [frame["state"] for frame in listing]
            if "leased" in states or "done" in states:
                seen.setdefault("leased", now)
            if "done" in states:
                seen.setdefault("done", now)
            available = [f["number"] for f in listing if f["image_available"]]
            if available:
                image = self.user.get(f"{self.api.url}/jobs/{job_id}/frames/{available[0]}")
                assert image.content.startswith(b"\x89PNG"), image.status_code
                seen["downloadable"] = now
                seen["while running"] = states.count("done") < frames
            if now > 600:
                raise SystemExit(f"job {job_id}: no frame downloadable after 600 s")
            time.sleep(POLL_SECONDS)
        wait_for(lambda: self.user.get(f"{self.api.url}/jobs/{job_id}").json()["state"]
                 in ("done", "failed", "cancelled"), timeout=900, interval=0.5,
                 message=f"job {job_id} to end")
        state = self.user.get(f"{self.api.url}/jobs/{job_id}").json()["state"]
        if state != "done":
            raise SystemExit(f"job {job_id} ended {state}; see {self.tmp}/worker.log")
        took = self._worker_times(job_id)
        return {**seen, "worker takes": took["staging"] - posted,
                "worker reports": took["submitted"] - posted,
                "agent starts": self._agent_start(job_id) - posted}

    def _agent_start(self, job_id):
        """When the node agent of the job's first attempt logged its start."""
        log = f"{self.profile['scratch']}/raycrafter/{job_id}/logs/batch-1.err"
        line = self.cluster.run_checked(f"grep -m 1 ' starting as ' {shlex.quote(log)}",
                                        "reading the agent's log").stdout
        return log_time(line)

    def _worker_times(self, job_id):
        """When the worker began the job's submission and reported it, from its log."""
        lines = {"staging": f"job {job_id}: staging its scene in",
                 "submitted": f"job {job_id}: submitted as batch job"}
        found = {}
        for line in self.worker.log().splitlines():
            match = LOG_LINE.match(line)
            for key, text in lines.items():
                if match and match.group(2).startswith(text):
                    found[key] = log_time(line)
        return found


def log_time(line):
    """The moment a line of the worker's or the agent's log (Python's logging) was written."""
    return datetime.datetime.strptime(LOG_LINE.match(line).group(1),
                                      "%Y-%m-%d %H:%M:%S,%f").timestamp()


COLUMNS = ("hand", "worker takes", "worker reports", "agent starts", "leased", "done",
           "downloadable")


def print_row(run, row):
    if run == 1:
        print(f"{'run':>3} " + " ".join(f"{c:>14}" for c in COLUMNS)
              + f" {'leased - hand':>14} while running")
    print(f"{run:>3} " + " ".join(f"{row[c]:>14.2f}" for c in COLUMNS)
          + f" {row['leased'] - row['hand']:>14.2f} {row['while running']}", flush=True)


def summary(rows):
    print(f"\nseconds from submission, {len(rows)} runs (load average "
          f"{os.getloadavg()[0]:.1f}): median (min-max)")
    for column in COLUMNS:
        values = [row[column] for row in rows]
        print(f"  {column:<15} {statistics.median(values):6.2f} "
              f"({min(values):.2f}-{max(values):.2f})")
    over = [row["leased"] - row["hand"] for row in rows]
    print(f"first frame rendering minus Slurm's submit-to-start: median "
          f"{statistics.median(over):.2f} s (goal <= {GOAL_SECONDS:.1f})")
    print(f"first frame downloadable while its batch job still rendered: "
          f"{sum(row['while running'] for row in rows)} of {len(rows)} runs")


if __name__ == "__main__":
    main()
