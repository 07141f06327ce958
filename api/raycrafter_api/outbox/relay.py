"""``raycrafter-relay``: publishes the outbox and reconciles stuck jobs, forever.

Each round publishes the unsent commands in order (one confirmed publish each; a command
is marked sent only after the broker's confirm), but for clusters in pull mode, whose
site agents ask the API for theirs, and for jobs whose cluster is still open; and every ``reconcile_interval_seconds``
it expires overdue frame leases and re-writes commands for jobs stuck past their deadline.
A broker outage closes the connection; the relay reconnects with exponential backoff and
jitter and carries on where the outbox says. Between rounds it waits
``relay_poll_seconds``, less when PostgreSQL tells it that a command was written
(``listener.py``). Several relays may run: consumers drop duplicate command ids.
"""
import logging
import sys
import threading
import time

import pika

from raycrafter_contract import job_logging
from raycrafter_contract.utilities.backoff import Backoff

from .. import programs
from ..database import db
from ..frames import leases
from ..metrics import exposition, series
from . import broker, commands
from .listener import OutboxListener

log = logging.getLogger("raycrafter.relay")

BATCH = 100
MAX_BACKOFF = 30.0


class Relay:
    def __init__(self, config):
        self.config = config
        self.publisher = None
        self.stopping = threading.Event()
        # The broker and the database fail apart, so each has its own backoff (the
        # database's: programs.run_rounds).
        self.broker_backoff = Backoff(first=config.relay_poll_seconds * 2, cap=MAX_BACKOFF)
        self.next_reconcile = 0.0
        self.listener = OutboxListener(config.database_url)
        self.backing_off = False

    def publish_pending(self):
        """Publish unsent commands; returns how many were confirmed. Raises on broker errors."""
        if not self.config.amqp_url:
            return 0
        with db.connection():
            batch = commands.unsent(BATCH, self.config.clusters_not_on_the_broker)
        sent = 0
        for command in batch:
            if self.publisher is None:
                self.publisher = broker.Publisher(self.config.amqp_url, self.config.exchange,
                                                  self.config.amqp_ca_file)
                log.info("connected to the broker")
            series.COMMANDS_PUBLISHED.labels(command.command).inc()
            try:
                self.publisher.publish(command.id, commands.message_body(command))
            except broker.Unroutable as error:
                with db.connection():
                    commands.mark_failed(command.id, error)
                raise
            with db.connection():
                commands.mark_sent(command.id)
            series.COMMANDS_CONFIRMED.labels(command.command).inc()
            with job_logging.about_job(command.job_id):
                log.info("job %s: command %s (%s) relayed to the broker", command.job_id,
                         command.command, command.id)
            sent += 1
        return sent

    def reconcile(self):
        with db.connection():
            expired = leases.expire_all_overdue(self.config)
            written = commands.reconcile_stuck_jobs(self.config)
        if expired:
            log.info("expired overdue leases of jobs %s", expired)
        for command in written:
            with job_logging.about_job(command.job_id):
                log.info("job %s is stuck: wrote %s command %s", command.job_id, command.command,
                         command.id)

    def step(self):
        """One round; returns the seconds to wait before the next."""
        now = time.monotonic()
        if now >= self.next_reconcile:
            self.reconcile()
            self.next_reconcile = now + self.config.reconcile_interval_seconds
        try:
            sent = self.publish_pending()
        except (broker.Unroutable, pika.exceptions.AMQPError, OSError) as error:
            self._drop_connection()
            delay = self.broker_backoff.next_delay()
            log.warning("publishing failed (%s: %s); retrying in %.1f s",
                        type(error).__name__, error, delay)
            self.backing_off = True
            return delay
        self.broker_backoff.reset()
        self.backing_off = False
        return 0 if sent == BATCH else self.config.relay_poll_seconds

    def _drop_connection(self):
        if self.publisher is not None:
            try:
                self.publisher.close()
            except (pika.exceptions.AMQPError, OSError):
                log.debug("ignoring an error while closing a broken connection")
            self.publisher = None

    def run(self):
        log.info("relay started (broker: %s)", "configured" if self.config.amqp_url
                 else "none: commands stay in the outbox")
        programs.run_rounds(log, self.stopping, self.step, self._pause)
        self._drop_connection()
        self.listener.close()
        log.info("relay stopped")

    def _pause(self, delay):
        if self.backing_off:  # a new command ends the wait between polls, not a backoff
            self.stopping.wait(delay)
        else:
            self.listener.wait(delay, self.stopping)


def main(argv=None):
    config = programs.configured("raycrafter-relay", __doc__.split("\n")[0], argv)
    if config is None:
        return 1
    logging.getLogger("pika").setLevel(logging.WARNING)
    relay = Relay(config)
    if config.relay_metrics_listen:
        exposition.serve(config.relay_metrics_listen, config, with_database=False)
    programs.stop_on_signals(relay.stopping)
    relay.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
