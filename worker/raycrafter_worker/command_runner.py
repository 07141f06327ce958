"""What a command's outcome means, wherever the command came from (RabbitMQ for the
worker, the API's outbox for a site agent): the handler is retried inside the command for
transient failures, and the command is acknowledged (ACK) once the API has recorded the
outcome, or handed back (REQUEUE) to come again.

Transient failures are retried with exponential backoff and jitter for up to
``retry_limit_seconds``; after that the command is handed back. Permanent failures fail the
job through the API and the command is acknowledged. An unexpected exception (a bug met by
one job's data) is not retried without end: after ``MAX_CRASHES`` of the same command of
the same job, the job fails with the exception as its reason, so it cannot hold a delivery
slot for ever. On SIGTERM the running handler stops at its next safe point and its command
is handed back.
"""
import collections
import logging
import threading
import time

from raycrafter_contract import job_logging
from raycrafter_contract.utilities.backoff import Backoff
from raycrafter_contract.wire.retrying import delay_before_retry

from .errors import ApiConflict, PermanentError, ShuttingDown, TransientError
from .retry import sleep_unless_stopped

log = logging.getLogger(__name__)

MAX_CRASHES = 3
ACK, REQUEUE = "ack", "requeue"


class CommandRunner:
    def __init__(self, handlers, retry_limit_seconds, stop_event, who="the worker"):
        self.handlers = handlers
        self.who = who  # named in a job's reason when a bug failed it
        self.retry_limit_seconds = retry_limit_seconds
        self.stop_event = stop_event
        self._crashes = collections.Counter()  # (job_id, command) -> unexpected exceptions

    def process(self, message):
        """Handle one command with retries; returns ACK or REQUEUE. Never raises. What is
        logged meanwhile is about the command's job (job_logging)."""
        with job_logging.about_job(message["job_id"]):
            return self._process(message)

    def _process(self, message):
        job_id, command = message["job_id"], message["command"]
        backoff = Backoff()
        deadline = time.monotonic() + self.retry_limit_seconds
        while True:
            try:
                log.info("%s", self.handlers.handle(message))
                self._crashes.pop((job_id, command), None)
                return ACK
            except ShuttingDown as error:
                log.info("%s of job %s handed back: %s", command, job_id, error)
                return REQUEUE
            except ApiConflict as conflict:
                if conflict.code == "max_submissions":
                    return self._fail(job_id, command, conflict)
                log.info("%s of job %s: the job moved on (%s); nothing to do",
                         command, job_id, conflict)
                return ACK
            except PermanentError as error:
                return self._fail(job_id, command, error)
            except TransientError as error:
                delay = delay_before_retry(backoff.next_delay(), error.retry_after)
                if time.monotonic() + delay > deadline:
                    log.warning("%s of job %s still failing, requeued: %s", command, job_id,
                                error)
                    return REQUEUE
                log.warning("%s of job %s failed (%s); retrying in %.1f s", command, job_id,
                            error, delay)
                if sleep_unless_stopped(delay, self.stop_event):
                    log.info("%s of job %s handed back: stopping", command, job_id)
                    return REQUEUE
            except Exception as error:  # a bug: keep the process alive, and others' jobs
                key = (job_id, command)
                self._crashes[key] += 1
                if self._crashes[key] >= MAX_CRASHES:
                    log.exception("%s of job %s crashed %d times; failing the job", command,
                                  job_id, self._crashes[key])
                    del self._crashes[key]
                    return self._fail(job_id, command, PermanentError(
                        f"{self.who} failed {MAX_CRASHES} times on this job's {command} "
                        f"({type(error).__name__}: {error}); the operators have the trace "
                        f"in its log"))
                log.exception("%s of job %s crashed; requeued", command, job_id)
                sleep_unless_stopped(backoff.next_delay(), self.stop_event)
                return REQUEUE

    def take_turn(self, cluster, job_id):
        """Submit a job whose turn for a place on ``cluster`` has come (poller.py), as if
        its submit command had come again, in a thread of its own; if it cannot be
        carried out now, the job waits for the next round."""
        message = {"command": "submit", "job_id": job_id, "cluster": cluster}

        def submit():
            if self.process(message) == REQUEUE:
                self.handlers.waiting.park(cluster, job_id)

        threading.Thread(target=submit, name=f"turn-{job_id}", daemon=True).start()

    def _fail(self, job_id, command, error):
        if command == "cancel":
            log.error("cancel of job %s failed: %s", job_id, error)
            return ACK
        log.error("%s of job %s failed permanently: %s", command, job_id, error)
        try:
            self.handlers.api.transition(job_id, "failed", reason=str(error))
        except ApiConflict as conflict:
            log.info("job %s not failed: %s", job_id, conflict)
        except (TransientError, PermanentError) as report_error:
            log.warning("cannot report the failure of job %s: %s", job_id, report_error)
            return REQUEUE
        return ACK
