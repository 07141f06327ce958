"""Waking the relay as soon as a command is written, instead of at its next poll.

On PostgreSQL the transaction that writes a command also sends ``NOTIFY`` on
``outbox.commands.NOTIFY_CHANNEL`` (delivered when it commits), and the relay listens on a
connection of its own. On SQLite, or while that connection is down, the relay just polls
every ``relay_poll_seconds``, as it always did: a notification is a nudge, never the only
way a command gets out.
"""
import logging
import select
import time

import psycopg2

from ..database import db
from . import commands

log = logging.getLogger(__name__)

# How often a wait looks at the stop request: a select cannot be woken by it.
STOP_CHECK_SECONDS = 0.25


class OutboxListener:
    def __init__(self, database_url):
        self.url = None if db.is_sqlite_url(database_url) else database_url
        self._connection = None

    def wait(self, seconds, stopping):
        """Wait up to ``seconds``, less if a command is written meanwhile; returns True if
        ``stopping`` was set."""
        connection = self._listening()
        if connection is None:
            return stopping.wait(seconds)
        deadline = time.monotonic() + seconds
        while not stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                readable, _, _ = select.select([connection], [], [],
                                               min(left, STOP_CHECK_SECONDS))
                if readable:
                    connection.poll()
                    if connection.notifies:
                        connection.notifies.clear()
                        return False
            except (psycopg2.Error, OSError) as error:
                log.warning("no longer listening for commands (%s); polling", error)
                self.close()
                return stopping.wait(max(0.0, deadline - time.monotonic()))
        return True

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _listening(self):
        """The listening connection, (re)made if need be; None on SQLite or when the
        database cannot be reached now (the caller polls)."""
        if self.url is None or self._connection is not None:
            return self._connection
        try:
            # libpq reads the URL itself, percent-encoding and connection options included.
            connection = psycopg2.connect(self.url)
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f"LISTEN {commands.NOTIFY_CHANNEL}")
        except psycopg2.Error as error:
            log.warning("cannot listen for commands (%s); polling", error)
            return None
        self._connection = connection
        return connection
