"""``raycrafter-worker --config FILE``: consume commands and poll the clusters until SIGTERM.

Exit status: 0 after a clean stop, 2 for a bad configuration (the message names the
profile and key), 1 if a cluster check (``--check``) fails.
"""
import logging
import shutil
import signal
import sys
import tempfile
import threading

from . import config as config_module
from . import job_records
from .api_client import ApiClient
from .cluster import Cluster
from .command_runner import CommandRunner
from .consumer import Consumer
from .errors import WorkerError
from .handlers import Handlers
from .metrics import serve as serve_metrics
from .poller import Poller, PollLoop
from .program import configured

log = logging.getLogger("raycrafter_worker")

CONFIG_ENV = "RAYCRAFTER_WORKER_CONFIG"


def main(argv=None):
    args, config = configured(
        "raycrafter-worker", __doc__.split("\n")[0], CONFIG_ENV,
        "check the configuration and log in to every cluster, then exit", config_module.load,
        argv)
    if config is None:
        return 2
    workdir = tempfile.mkdtemp(prefix="raycrafter-worker-")
    clusters = {}
    for name, profile in config.clusters.items():
        if profile.access == "ssh":
            clusters[name] = Cluster(profile, workdir)
        else:  # its site agent asks the API for its commands (site_agent.py)
            log.info("cluster %s is reached by its site agent (access %s), not over SSH",
                     name, profile.access)
    try:
        if args.check:
            return check(clusters)
        return serve(config, clusters, workdir)
    finally:
        for cluster in clusters.values():
            cluster.close()
        shutil.rmtree(workdir, ignore_errors=True)


def check(clusters):
    failed = False
    for cluster in clusters.values():
        try:
            jobs = cluster.batch_jobs()
            print(f"cluster {cluster.name}: logged in, {len(jobs)} batch job(s) listed")
        except WorkerError as error:
            print(f"cluster {cluster.name}: {error}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


def measure_transfers_in_turn(clusters, stop):
    """Measure each cluster's transfers in the background, so that a first transfer seldom
    waits for it, one cluster after another: every probe at once (each moving 32 MiB each
    way by each way, in every worker process) held a restarted worker's first transfers
    up for minutes. A transfer that comes first measures its own cluster itself."""
    for cluster in clusters:
        if stop.is_set():
            return
        cluster.measure_transfers()


def serve(config, clusters, workdir):
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if config.metrics_listen:
        serve_metrics(config.metrics_listen, config.metrics_tls_certificate,
                      config.metrics_tls_key)
    api = ApiClient(config.api_url, config.api_token_file, config.ca_file)
    job_records.ship_when_issued(api, config.log_server, config.log_server_ca_file,
                                 "raycrafter-worker", stop)
    handlers = Handlers(api, clusters, workdir, stop, config.retry_limit_seconds,
                        config.scene_limits,
                        stage_in_disk_wait_seconds=config.stage_in_disk_wait_seconds)
    runner = CommandRunner(handlers, config.retry_limit_seconds, stop)
    consumer = Consumer(config, runner, stop)
    poller = Poller(api, clusters, workdir, config.lost_grace_seconds,
                    waiting=handlers.waiting, take_turn=runner.take_turn)
    threading.Thread(target=measure_transfers_in_turn, args=(clusters.values(), stop),
                     name="probes", daemon=True).start()
    polling = threading.Thread(target=PollLoop(poller, config.poll_interval_seconds, stop).run,
                               name="poller", daemon=True)
    polling.start()
    log.info("worker started with cluster(s) %s", ", ".join(clusters))
    consumer.run()
    polling.join(timeout=10)
    log.info("worker stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
