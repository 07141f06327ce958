"""Consuming commands from RabbitMQ (pika) and acknowledging them only once handled.

Each delivery is handled in its own thread while the main thread keeps servicing the
connection (``process_data_events``), so heartbeats flow during long transfers and the
broker does not drop us. The handler thread hands its outcome back with
``add_callback_threadsafe``; the ack (or a requeue) is sent from the connection's thread,
because pika's channels are not thread-safe. A message is acked only after the API has
recorded the outcome (the job's new state, or its failure with a reason); what an outcome
is, retries included, is command_runner.py's. A message handed back is nacked with
requeue and comes again. On SIGTERM the worker stops taking messages, lets running
handlers reach their next safe point, and requeues whatever is not finished.
"""
import functools
import logging
import threading
import time

import pika
import pika.exceptions
from raycrafter_contract.messaging import ROUTING_KEY, parse_command
from raycrafter_contract.utilities.backoff import Backoff
from raycrafter_contract.utilities.broker_tls import broker_tls

from .command_runner import ACK, REQUEUE
from .retry import sleep_unless_stopped

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 30.0
_SEEN_LIMIT = 10_000


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
    def __init__(self, config, runner, stop_event):
        self.config = config
        self.runner = runner
        self.stop_event = stop_event
        self._in_flight = 0
        self._guard = threading.Lock()
        self._seen = {}

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
            outcome = self.runner.process(message)
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
