"""Benchmark: the worker's submission overhead and stage-out throughput (prints figures).

    sudo /tmp/dev-worker/venv/bin/python bench/worker_submit.py [--jobs 100] [--mib 200]

1. ``--jobs`` submissions through the whole worker (API job -> RabbitMQ command -> stage-in
   -> recorded attempt -> sbatch -> reported) against the same number of ``sbatch`` calls
   run directly on the login node; the ratio is what the worker costs per submission.
2. Stage-out of one ``--mib`` MiB file with GridFTP (sshftp, -dcpriv), with SFTP, and with
   ``cp`` on the login node (the local disk's limit), each checksum-verified except cp.

Runs against the local `cluster` role as root (like tests/worker); every batch job it
makes is cancelled at the end.
"""
import argparse
import os
import pathlib
import secrets
import shlex
import sys
import tempfile
import time

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPOSITORY / "tests"), str(REPOSITORY / "tests" / "worker")]

import requests  # noqa: E402
import yaml  # noqa: E402
from raycrafter_worker import config as worker_config  # noqa: E402
from raycrafter_worker.cluster import Cluster  # noqa: E402
from support.api_server import ApiServer, create_user, ensure_worker_token, write_config  # noqa: E402
from support.api_testing import SCENE  # noqa: E402
from support.polling import wait_for  # noqa: E402
from support.rabbitmq import ThrowawayRabbitMQ  # noqa: E402
from worker_harness import WorkerProcess, prepare_queue, publish, write_worker_config  # noqa: E402

SCRATCH_ROOT = "/srv/raycrafter/scratch"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--mib", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rc-bench-") as tmp:
        tmp = pathlib.Path(tmp)
        profile = make_profile(tmp)
        cluster = Cluster(worker_config.parse_profile("bench", profile), str(tmp))
        cluster.make_dirs([profile["scratch"], f"{profile['scratch']}/raycrafter/.x509"])
        cluster.write_file(profile["nodeagent"], "#!/bin/sh\nexit 0\n")
        cluster.run(f"chmod 0755 {shlex.quote(profile['nodeagent'])}")
        try:
            submissions(args.jobs, tmp, profile, cluster)
            transfers(args.mib, tmp, cluster)
        finally:
            cancel_all(cluster, profile["batch_prefix"])
            cluster.run(f"rm -rf -- {shlex.quote(profile['scratch'])}")
            cluster.close()
            os.unlink(f"/etc/ssh/ssh_config.d/{profile['gridftp_host']}.conf")


def make_profile(tmp):
    keys = yaml.safe_load(open("/etc/raycrafter/pillar/secrets.sls"))["raycrafter_secrets"]
    key = tmp / "key"
    key.write_text(keys["cluster_ssh_private_key"].rstrip("\n") + "\n")
    key.chmod(0o600)
    known = tmp / "known_hosts"
    known.write_text(f"127.0.0.1 {keys['cluster_host_public_key'].strip()}\n")
    alias = f"raycrafter-bench-{secrets.token_hex(3)}"
    with open(f"/etc/ssh/ssh_config.d/{alias}.conf", "w") as f:
        f.write(f"Host {alias}\n  HostName 127.0.0.1\n  User render\n  IdentityFile {key}\n"
                f"  UserKnownHostsFile {known}\n  StrictHostKeyChecking yes\n"
                "  IdentitiesOnly yes\n  BatchMode yes\n")
    scratch = f"{SCRATCH_ROOT}/bench-{secrets.token_hex(3)}"
    return {"login_host": "127.0.0.1", "user": "render", "key_file": str(key),
            "known_hosts_file": str(known), "scheduler": "slurm", "launcher": "srun",
            "walltime": "00:01:00", "scratch": scratch, "nodeagent": f"{scratch}/agent",
            "agent_api_url": "https://api.invalid", "transfer": "gridftp",
            "gridftp_host": alias, "batch_prefix": f"bench{secrets.token_hex(2)}-"}


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
                wait_for(lambda: all(user.get(f"{api.url}/jobs/{i}").json()["state"]
                                     == "submitted" for i in ids),
                         timeout=30 * count, interval=0.5, message="all jobs submitted")
                through_worker = time.monotonic() - started
            finally:
                worker.stop()
    finally:
        broker.destroy()
    cancel_all(cluster, profile["batch_prefix"])
    loop = (f"for i in $(seq {count}); do sbatch --parsable -J {profile['batch_prefix']}direct "
            f"-o /dev/null -t 00:01:00 --wrap true > /dev/null; done")
    started = time.monotonic()
    cluster.run(loop, timeout=30 * count)
    direct = time.monotonic() - started
    print(f"{count} submissions through the worker: {through_worker:7.2f} s "
          f"({through_worker / count * 1000:6.1f} ms each)")
    print(f"{count} sbatch on the login node:      {direct:7.2f} s "
          f"({direct / count * 1000:6.1f} ms each)")
    print(f"worker overhead ratio: {through_worker / direct:.1f}x")


def transfers(mib, tmp, cluster):
    remote = f"{cluster.profile.scratch}/bench.bin"
    cluster.run(f"head -c {mib}M /dev/urandom > {remote}", timeout=600)
    expected = cluster.checksums([remote])
    for method, stager in (("gridftp", cluster.stager), ("sftp", None)):
        if stager is None:
            from raycrafter_worker.staging import SftpStager
            cluster.stager = SftpStager(cluster.transport)
        local = tmp / f"{method}.bin"
        started = time.monotonic()
        cluster.download_verified([(remote, str(local))], expected)
        elapsed = time.monotonic() - started
        print(f"stage-out {mib} MiB with {method:8s} {elapsed:7.2f} s  {mib / elapsed:8.1f} MiB/s"
              f" (checksum verified)")
        local.unlink()
    started = time.monotonic()
    cluster.run(f"cp {remote} {remote}.copy && sync {remote}.copy", timeout=600)
    elapsed = time.monotonic() - started
    print(f"cp of {mib} MiB on the login node  {elapsed:7.2f} s  {mib / elapsed:8.1f} MiB/s")


def cancel_all(cluster, prefix):
    ids = [j.id for j in cluster.batch_jobs() if j.name.startswith(prefix) and j.active]
    if ids:
        cluster.cancel(ids)


if __name__ == "__main__":
    main()
