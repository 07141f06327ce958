"""A site agent's commands: it asks the API for them, as the worker receives its own over
AMQP (docs/protocol.md, "Site agent calls").

Every ``command_poll_seconds`` one call lists the commands for the cluster that are not
carried out yet (the API's outbox, oldest first); each new one runs in a thread of its own,
at most ``prefetch`` at once, through the worker's own handlers and outcome rule
(command_runner.py). A command the rule acknowledges is reported done, and the API hands
it out no more; one handed back (a failure to retry, a stop) stays in the outbox and comes
again in a later answer, after a restart too. Reporting a command done is the
acknowledgement: a site agent killed before it comes again, and the handlers, which start
from the job's state, make a second run harmless.

The site agent polls rather than holding a request open until a command comes (a long
poll): a command waits at most ``command_poll_seconds``, which a batch queue's minutes
dwarf, while a long poll would hold one of the API's few threads per site agent and ask
every proxy on the way (nginx, a site's own) to keep idle requests open.

Where the cluster takes open jobs (``open_jobs``), each round first takes as many as leave
at most that many of its jobs waiting to be submitted, so a cluster takes more while it
has room and none while its queue is full: clusters share the open jobs by what they can
run.
"""
import logging
import threading
import time

from raycrafter_contract.utilities.backoff import Backoff

from .command_runner import ACK
from .errors import WorkerError
from .queue_turns import WAITING_STATES
from .retry import sleep_unless_stopped

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 30.0


class CommandFetcher:
    def __init__(self, api, runner, cluster_name, config, stop_event):
        self.api = api
        self.runner = runner
        self.cluster_name = cluster_name
        self.interval = config.command_poll_seconds
        self.prefetch = config.prefetch
        self.open_jobs = config.open_jobs
        self.stop_event = stop_event
        self._running = set()
        self._guard = threading.Lock()

    def run(self):
        """Ask and carry out until ``stop_event`` is set; then give running commands their
        grace to reach a safe point."""
        backoff = Backoff(first=self.interval, cap=max(8 * self.interval, 60.0))
        while not self.stop_event.is_set():
            try:
                self.round()
                backoff.reset()
                delay = self.interval
            except WorkerError as error:
                delay = backoff.next_delay()
                log.warning("asking the API for the commands of cluster %s failed (%s); "
                            "next try in %.0f s", self.cluster_name, error, delay)
            if sleep_unless_stopped(delay, self.stop_event):
                break
        deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
        while self._count() and time.monotonic() < deadline:
            time.sleep(0.2)

    def round(self):
        """Take open jobs where there is room, then start each new command; returns the ids
        of the commands started."""
        if self.open_jobs:
            self._take_open_jobs()
        started = []
        for command in self.api.site_commands():
            with self._guard:
                if command.id in self._running:
                    continue
                if len(self._running) >= self.prefetch:
                    break
                self._running.add(command.id)
            threading.Thread(target=self._work, args=(command,), daemon=True,
                             name=f"command-{command.id}").start()
            started.append(command.id)
        return started

    def _take_open_jobs(self):
        waiting = len(self.api.list_jobs(self.cluster_name, WAITING_STATES))
        room = self.open_jobs - waiting
        if room > 0:
            taken = self.api.take_open_jobs(room)
            if taken:
                log.info("cluster %s took open job(s) %s", self.cluster_name,
                         ", ".join(map(str, taken)))

    def _work(self, command):
        try:
            if self.runner.process(command.to_json()) == ACK:
                self.api.command_done(command.id)
        except WorkerError as error:  # it comes again, and finds its job's state
            log.warning("command %s of job %s not reported done: %s", command.id,
                        command.job_id, error)
        finally:
            with self._guard:
                self._running.discard(command.id)

    def _count(self):
        with self._guard:
            return len(self._running)
