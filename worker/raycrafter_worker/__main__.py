"""``raycrafter-worker --config FILE``: consume commands and poll the clusters until SIGTERM.

Exit status: 0 after a clean stop, 2 for a bad configuration (the message names the
profile and key), 1 if a cluster check (``--check``) fails.
"""
import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading

from . import config as config_module
from .api_client import ApiClient
from .cluster import Cluster
from .consumer import Consumer
from .errors import ConfigError, WorkerError
from .handlers import Handlers
from .metrics import serve as serve_metrics
from .poller import Poller, PollLoop

log = logging.getLogger("raycrafter_worker")

CONFIG_ENV = "RAYCRAFTER_WORKER_CONFIG"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="raycrafter-worker", description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=os.environ.get(CONFIG_ENV),
                        help=f"the worker's TOML configuration [{CONFIG_ENV}]")
    parser.add_argument("--check", action="store_true",
                        help="check the configuration and log in to every cluster, then exit")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    logging.getLogger("pika").setLevel(logging.WARNING)
    if not args.config:
        parser.error(f"--config (or {CONFIG_ENV}) is required")
    try:
        config = config_module.load(args.config)
    except ConfigError as error:
        print(f"raycrafter-worker: {args.config}: {error}", file=sys.stderr)
        return 2
    workdir = tempfile.mkdtemp(prefix="raycrafter-worker-")
    clusters = {name: Cluster(profile, workdir) for name, profile in config.clusters.items()}
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


def serve(config, clusters, workdir):
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if config.metrics_listen:
        serve_metrics(config.metrics_listen, config.metrics_tls_certificate,
                      config.metrics_tls_key)
    api = ApiClient(config.api_url, config.api_token_file, config.ca_file)
    handlers = Handlers(api, clusters, workdir, stop, config.retry_limit_seconds,
                        config.scene_limits)
    consumer = Consumer(config, handlers, stop)
    poller = Poller(api, clusters, workdir, config.lost_grace_seconds,
                    waiting=handlers.waiting, take_turn=consumer.take_turn)
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
