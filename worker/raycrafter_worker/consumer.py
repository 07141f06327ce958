"""Consuming commands from RabbitMQ (pika) and acknowledging them only once handled.

Each delivery is handled in its own thread while the main thread keeps servicing the
connection (``process_data_events``), so heartbeats flow during long transfers and the
broker does not drop us. The handler thread hands its outcome back with
``add_callback_threadsafe``; the ack (or a requeue) is sent from the connection's thread,
because pika's channels are not thread-safe. A message is acked only after the API has
recorded the outcome (the job's new state, or its failure with a reason).

Transient failures are retried inside the handler thread with exponential backoff and
jitter for up to ``retry_limit_seconds``; after that the message goes back to the queue
(nack + requeue) and will be tried again. Permanent failures fail the job through the API
and the message is acked. An unexpected exception (a bug met by one job's data) is not
retried without end: after ``MAX_CRASHES`` of the same command of the same job, the job
fails with the exception as its reason, so it cannot hold a delivery slot for ever. On SIGTERM the worker stops taking messages, lets running
handlers reach their next safe point, and requeues whatever is not finished.
"""
import collections
import functools
import logging
import threading
import time

import pika
import pika.exceptions
from raycrafter_contract.messaging import ROUTING_KEY, parse_command
from raycrafter_contract.utilities.backoff import Backoff
from raycrafter_contract.utilities.broker_tls import broker_tls
from raycrafter_contract.wire.retrying import delay_before_retry

from .errors import ApiConflict, PermanentError, ShuttingDown, TransientError
from .retry import sleep_unless_stopped

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 30.0
MAX_CRASHES = 3
_SEEN_LIMIT = 10_000

ACK, REQUEUE, REJECT = "ack", "requeue", "reject"


def connection_parameters(url, ca_file=None):
    params = pika.URLParameters(url)
    tls = broker_tls(url, ca_file)
    if tls:
        params.ssl_options = pika.SSLOptions(*tls)
    params.connection_attempts = 1
    params.socket_timeout = 10
    params.blocked_connection_timeout = 60
    return params


class Consumer:
    def __init__(self, config, handlers, stop_event):
        self.config = config
        self.handlers = handlers
        self.stop_event = stop_event
        self._in_flight = 0
        self._guard = threading.Lock()
        self._seen = {}
        self._crashes = collections.Counter()  # (job_id, command) -> unexpected exceptions

    def run(self):
        """Consume until ``stop_event`` is set, reconnecting with backoff after outages."""
        backoff = Backoff(cap=30.0)
        while not self.stop_event.is_set():
            try:
                self._consume(backoff)
            except (pika.exceptions.AMQPError, OSError) as error:
                log.warning("broker connection failed: %s", error or type(error).__name__)
                if sleep_unless_stopped(backoff.next_delay(), self.stop_event):
                    break

    def _consume(self, backoff):
        connection = pika.BlockingConnection(
            connection_parameters(self.config.amqp_url, self.config.ca_file))
        try:
            channel = connection.channel()
            exchange, queue = self.config.exchange, self.config.queue
            channel.exchange_declare(exchange, exchange_type="direct", durable=True)
            channel.queue_declare(queue, durable=True)
            channel.queue_bind(queue, exchange, routing_key=ROUTING_KEY)
            channel.basic_qos(prefetch_count=self.config.prefetch)
            on_message = functools.partial(self._on_message, connection)
            tag = channel.basic_consume(queue, on_message_callback=on_message)
            log.info("consuming %s", queue)
            backoff.reset()
            while not self.stop_event.is_set():
                connection.process_data_events(time_limit=0.5)
            channel.basic_cancel(tag)
            deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
            while self._in_flight and time.monotonic() < deadline:
                connection.process_data_events(time_limit=0.2)
        finally:
            if connection.is_open:
                connection.close()  # anything still unacked goes back to the queue

    def _on_message(self, connection, channel, method, properties, body):
        try:
            message = parse_command(body)
        except ValueError as error:
            log.error("dropping unreadable message %s: %s", properties.message_id, error)
            channel.basic_reject(method.delivery_tag, requeue=False)
            return
        command_id = message.get("id") or properties.message_id
        if command_id and command_id in self._seen:
            log.info("command %s was handled already: acknowledging the duplicate", command_id)
            channel.basic_ack(method.delivery_tag)
            return
        with self._guard:
            self._in_flight += 1
        thread = threading.Thread(target=self._work, name=f"command-{command_id}",
                                  args=(connection, channel, method.delivery_tag, message),
                                  daemon=True)
        thread.start()

    def _work(self, connection, channel, delivery_tag, message):
        outcome = REQUEUE
        try:
            outcome = self.process(message)
        finally:
            done = functools.partial(self._settle, channel, delivery_tag, message, outcome)
            try:
                connection.add_callback_threadsafe(done)
            except Exception as error:  # the connection is gone: the broker requeues
                log.warning("cannot settle command %s: %s", message.get("id"), error)
                with self._guard:
                    self._in_flight -= 1

    def _settle(self, channel, delivery_tag, message, outcome):
        with self._guard:
            self._in_flight -= 1
        if not channel.is_open:
            return
        if outcome == ACK:
            channel.basic_ack(delivery_tag)
            if message.get("id"):
                self._remember(message["id"])
        else:
            channel.basic_nack(delivery_tag, requeue=True)

    def _remember(self, command_id):
        self._seen[command_id] = True
        while len(self._seen) > _SEEN_LIMIT:
            self._seen.pop(next(iter(self._seen)))

    def process(self, message):
        """Handle one command with retries; returns ACK or REQUEUE. Never raises."""
        job_id, command = message["job_id"], message["command"]
        backoff = Backoff()
        deadline = time.monotonic() + self.config.retry_limit_seconds
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
                    log.info("%s of job %s handed back: the worker is stopping",
                             command, job_id)
                    return REQUEUE
            except Exception as error:  # a bug: keep the worker alive, and the others' jobs
                key = (job_id, command)
                self._crashes[key] += 1
                if self._crashes[key] >= MAX_CRASHES:
                    log.exception("%s of job %s crashed %d times; failing the job", command,
                                  job_id, self._crashes[key])
                    del self._crashes[key]
                    return self._fail(job_id, command, PermanentError(
                        f"the worker failed {MAX_CRASHES} times on this job's {command} "
                        f"({type(error).__name__}: {error}); the operators have the trace "
                        f"in the worker's log"))
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
