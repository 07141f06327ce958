"""The worker's cost per submission against ``sbatch`` alone (not a test; prints figures).

    /opt/raycrafter/test/bin/python bench/worker_submit.py [--jobs 100]

``--jobs`` submissions through the whole worker (API job -> RabbitMQ command -> stage-in
-> recorded attempt -> sbatch -> reported), published at once, from the first command to
the last job reported submitted, against the same number of ``sbatch`` calls each run as
one command over the same kind of SSH connection (paramiko, the worker's transport), and
one empty SSH command (``true``): what every command on the login node costs at least.
The goal is at most 100 ms of worker time per submission.

Runs against the local `cluster` role as root (like tests/worker); every batch job it
makes is cancelled at the end.
"""
import argparse
import pathlib
import secrets
import shlex
import tempfile
import time

import requests

from bench_cluster import bench_cluster, cancel_all
from support.api_server import ApiServer, create_user, ensure_worker_token, write_config
from support.api_testing import SCENE
from support.polling import wait_for
from support.rabbitmq import ThrowawayRabbitMQ
from support.worker_harness import WorkerProcess, prepare_queue, publish, write_worker_config

GOAL_MS = 100
REPORTED = ": submitted as batch job "  # the worker's log line once the API has the job


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rc-bench-") as tmp, \
            bench_cluster(pathlib.Path(tmp)) as (profile, cluster):
        agent = shlex.quote(profile["nodeagent"])
        cluster.run_checked(f"cat > {agent} && chmod 0755 {agent}", "installing a stand-in agent",
                            stdin="#!/bin/sh\nexit 0\n")
        submissions(args.jobs, pathlib.Path(tmp), profile, cluster)


def submissions(count, tmp, profile, cluster):
    broker = ThrowawayRabbitMQ().start()
    try:
        password = secrets.token_hex(8)
        broker.add_user("worker", password, ".*", ".*", ".*")
        prepare_queue(broker.admin_url)
        api_config = write_config(tmp / "api.toml", database_url=f"sqlite:///{tmp}/api.db",
                                  data_dir=str(tmp / "data"), clusters=["bench"],
                                  default_cluster="bench")
        with ApiServer(api_config) as api:
            ensure_worker_token(api_config)
            user = requests.Session()
            user.headers["Authorization"] = f"Bearer {create_user(api_config, 'bench')}"
            config = write_worker_config(tmp / "worker.toml", {
                "api_url": api.base, "api_token_file": str(tmp / "worker.token"),
                "amqp_url": broker.url("worker", password), "poll_interval_seconds": 3600,
                "prefetch": 4}, {"bench": profile})
            worker = WorkerProcess(config, str(tmp / "worker.log")).start()
            try:
                ids = [user.post(f"{api.url}/jobs", files={"scene": ("scene.pov", SCENE)},
                                 data={"name": f"b{i}", "frames": "1", "width": "8",
                                       "height": "8"}).json()["id"] for i in range(count)]
                started = time.monotonic()
                for job_id in ids:
                    publish(broker.admin_url, "submit", job_id, "bench")
                # The worker's log says when each job is reported: asking the API for every
                # job twice a second would load the API the worker needs.
                wait_for(lambda: worker.log().count(REPORTED) >= count, timeout=30 * count,
                         interval=0.05, message="all jobs submitted")
                through_worker = time.monotonic() - started
                states = {user.get(f"{api.url}/jobs/{i}").json()["state"] for i in ids}
                assert states == {"submitted"}, states
            finally:
                worker.stop()
    finally:
        broker.destroy()
    cancel_all(cluster, profile["batch_prefix"])
    sbatch = (f"sbatch --parsable -J {profile['batch_prefix']}direct -o /dev/null "
              f"-t 00:01:00 --wrap true")
    direct = timed(count, lambda: cluster.run_checked(sbatch, "sbatch"))
    empty = timed(count, lambda: cluster.run_checked("true", "an empty command"))
    print(f"{'per submission':<38} {'ms':>7}")
    print(f"{'through the worker':<38} {through_worker / count * 1000:7.1f}  "
          f"(goal <= {GOAL_MS})")
    print(f"{'sbatch alone, one SSH command each':<38} {direct / count * 1000:7.1f}")
    print(f"{'an empty SSH command':<38} {empty / count * 1000:7.1f}")
    print(f"worker / sbatch alone: {through_worker / direct:.1f}x")


def timed(count, action):
    started = time.monotonic()
    for _ in range(count):
        action()
    return time.monotonic() - started


if __name__ == "__main__":
    main()
