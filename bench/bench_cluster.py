"""The local `cluster` role as a bench uses it: a profile of the cluster account with its
own scratch directory, ssh alias (for globus-url-copy) and batch name prefix, and a
Cluster connected to it; everything made is removed at the end. Runs as root, like
tests/worker."""
import contextlib
import os
import secrets
import shlex

from raycrafter_worker import config as worker_config
from raycrafter_worker.cluster import Cluster
from raycrafter_worker.staging import remote_trust_dir
from support.appliance_secrets import appliance_secrets

SCRATCH_ROOT = "/srv/raycrafter/scratch"


def make_profile(tmp):
    keys = appliance_secrets()
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


@contextlib.contextmanager
def bench_cluster(tmp):
    """(profile dict, Cluster) on a fresh scratch directory with the GridFTP trust dir."""
    profile = make_profile(tmp)
    cluster = Cluster(worker_config.parse_profile("bench", profile), str(tmp))
    try:
        cluster.make_dirs([profile["scratch"], remote_trust_dir(cluster.profile)])
        yield profile, cluster
    finally:
        cancel_all(cluster, profile["batch_prefix"])
        cluster.run(f"rm -rf -- {shlex.quote(profile['scratch'])}")
        cluster.close()
        os.unlink(f"/etc/ssh/ssh_config.d/{profile['gridftp_host']}.conf")


def cancel_all(cluster, prefix):
    ids = [j.id for j in cluster.batch_jobs() if j.name.startswith(prefix) and j.active]
    if ids:
        cluster.cancel(ids)
