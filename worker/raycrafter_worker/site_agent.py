"""``raycrafter-siteagent --config FILE``: the worker of one cluster in pull mode, run on
its login node as the cluster's user, for sites that allow no SSH from outside.

It asks the API over HTTPS for its cluster's commands (site_commands.py) and polls the
scheduler, and does what the worker does over SSH with the worker's own code: the same
handlers (stage in, the never-twice submission behind the attempt's marker, cancel,
collect), the same scheduler adapters, batch script, queue lock and turns, the same
poller. Only the way to the login node differs: it is this host, so commands run in the
account's login shell and files are copied (local_transport.py). What a restart loses is
nothing the API does not hold: undone commands come again, and a job found waiting for a
place is submitted again by the API's reconciler.

Exit status: 0 after a clean stop (SIGTERM/SIGINT), and when another site agent of the
same configuration holds its lock file; 2 for a bad configuration; 1 when ``--check``
cannot list the queue or is refused by the API.
"""
import fcntl
import logging
import os
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
from .errors import WorkerError
from .handlers import Handlers
from .local_transport import LocalStager, LocalTransport
from .poller import Poller, PollLoop
from .program import configured
from .site_commands import CommandFetcher

log = logging.getLogger("raycrafter_siteagent")

CONFIG_ENV = "RAYCRAFTER_SITEAGENT_CONFIG"


def main(argv=None):
    args, config = configured(
        "raycrafter-siteagent", __doc__.split("\n")[0], CONFIG_ENV,
        "check the configuration, list the queue and ask the API, then exit",
        config_module.load_site, argv)
    if config is None:
        return 2
    with open(os.open(config.lock_file, os.O_RDWR | os.O_CREAT, 0o600), "r+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"raycrafter-siteagent: another site agent holds {config.lock_file}; "
                  f"leaving cluster {config.cluster.name} to it", file=sys.stderr)
            return 0
        workdir = tempfile.mkdtemp(prefix="raycrafter-siteagent-")
        transport = LocalTransport(config.cluster)
        cluster = Cluster(config.cluster, workdir, transport, LocalStager(transport))
        try:
            api = ApiClient(config.api_url, config.api_token_file, config.ca_file)
            if args.check:
                return check(cluster, api)
            return serve(config, cluster, api, workdir)
        except WorkerError as error:
            print(f"raycrafter-siteagent: {error}", file=sys.stderr)
            return 1
        finally:
            cluster.close()
            shutil.rmtree(workdir, ignore_errors=True)


def check(cluster, api):
    try:
        jobs = cluster.batch_jobs()
        commands = api.site_commands()
    except WorkerError as error:
        print(f"cluster {cluster.name}: {error}", file=sys.stderr)
        return 1
    print(f"cluster {cluster.name}: {len(jobs)} batch job(s) listed; the API has "
          f"{len(commands)} command(s) for it")
    return 0


def serve(config, cluster, api, workdir):
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    clusters = {cluster.name: cluster}
    job_records.ship_when_issued(api, config.log_server, config.log_server_ca_file,
                                 "raycrafter-siteagent", stop)
    handlers = Handlers(api, clusters, workdir, stop, config.retry_limit_seconds,
                        config.scene_limits,
                        stage_in_disk_wait_seconds=config.stage_in_disk_wait_seconds)
    runner = CommandRunner(handlers, config.retry_limit_seconds, stop, "the site agent")
    poller = Poller(api, clusters, workdir, config.lost_grace_seconds,
                    waiting=handlers.waiting, take_turn=runner.take_turn)
    polling = threading.Thread(target=PollLoop(poller, config.poll_interval_seconds, stop).run,
                               name="poller", daemon=True)
    polling.start()
    log.info("site agent of cluster %s started", cluster.name)
    CommandFetcher(api, runner, cluster.name, config, stop).run()
    polling.join(timeout=10)
    log.info("site agent stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
