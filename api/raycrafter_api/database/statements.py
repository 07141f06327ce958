"""The hot paths' statements: SQL text written once, prepared once per connection.

peewee builds a statement's text again on every call and wraps each row it reads in a
model: about 0.2 ms of the interpreter's time per statement, which on the lease calls was
most of the API's CPU; and PostgreSQL parses and plans each statement it is sent, about
three times what running a prepared one costs (docs/performance.md). The statements here
are the same on every call but for their parameters, so their text is made once, each
PostgreSQL connection prepares it the first time it runs it (``PREPARE``; the pool keeps
connections, and with them what they prepared) and then only ``EXECUTE``s it, and rows come
back as plain named tuples. SQLite's driver keeps its own cache of compiled statements.

A template is PostgreSQL's SQL with ``%s`` for each parameter, ``{lock}`` and
``{skip_locked}`` where PostgreSQL locks the rows read (``locked`` in db.py says why
``FOR NO KEY UPDATE``; SQLite has no row locks, its write transaction holds the whole
database), and ``{numbers}`` after a column that is to be one of a list of frame numbers
(given as one parameter: ``= ANY(...)`` on PostgreSQL, ``IN (...)`` on SQLite). For SQLite
every ``%s`` becomes ``?``, and a time is passed in the text form peewee keeps times in
there. Times are compared in SQL, never read back, so that text form never reaches the
code.
"""
import collections
import datetime
import itertools
import re

import peewee
import psycopg2.extras

from .db import database, is_postgres

_LOCKS = {True: {"lock": " FOR NO KEY UPDATE", "skip_locked": " FOR NO KEY UPDATE SKIP LOCKED"},
          False: {"lock": "", "skip_locked": ""}}
# Rows changed per round trip by ``execute_many`` on PostgreSQL (a chunk's frames at most).
_BATCH_ROWS = 1000
_NAMES = itertools.count(1)


class Statement:
    """One statement; ``columns`` names what a SELECT returns (its rows are named tuples
    with those fields)."""

    def __init__(self, template, columns=None):
        self._row = collections.namedtuple("Row", columns) if columns else None
        self._name = f"raycrafter_{next(_NAMES)}"
        self._parameters = template.count("%s") + template.count("{numbers}")
        numbered = iter(range(1, self._parameters + 1))
        # PostgreSQL's: prepared with $1, $2, ... and executed with as many values.
        self._prepare = f"PREPARE {self._name} AS " + re.sub(
            r"%s|\{numbers\}",
            lambda match: f"${next(numbered)}" if match.group() == "%s"
            else f"= ANY(${next(numbered)})", template).format(**_LOCKS[True])
        self._execute = f"EXECUTE {self._name} ({', '.join(['%s'] * self._parameters)})"
        self._sqlite = template.replace("%s", "?").format(numbers="{numbers}",
                                                           **_LOCKS[False])

    def execute(self, *params):
        """Run the statement (a list of numbers, where ``{numbers}`` stands, is one of
        ``params``). Returns the cursor."""
        if is_postgres():
            self._prepared()
            return database.execute_sql(self._execute, params)
        return database.execute_sql(*self._for_sqlite(params))

    def rows(self, *params):
        return [self._row(*row) for row in self.execute(*params).fetchall()]

    def first(self, *params):
        row = self.execute(*params).fetchone()
        return None if row is None else self._row(*row)

    def value(self, *params):
        row = self.execute(*params).fetchone()
        return None if row is None else row[0]

    def execute_many(self, rows):
        """Run the statement once for each tuple of parameters in ``rows``: in one round
        trip per thousand rows on PostgreSQL (psycopg2's ``execute_batch``)."""
        if not rows:
            return
        cursor = database.cursor()
        with peewee.__exception_wrapper__:
            if is_postgres():
                self._prepared()
                psycopg2.extras.execute_batch(cursor, self._execute, rows,
                                              page_size=_BATCH_ROWS)
            else:
                cursor.executemany(self._sqlite, [self._for_sqlite(row)[1] for row in rows])

    def _prepared(self):
        """Prepare the statement on this connection, once."""
        connection = database.connection()
        if self._name not in connection.prepared:
            database.execute_sql(self._prepare)
            connection.prepared.add(self._name)

    def _for_sqlite(self, params):
        """The text and parameters for SQLite: a list of numbers spread into ``IN (?, ...)``,
        times as the text peewee stores them (``2026-11-22 10:00:00.250000``)."""
        text, flat = self._sqlite, []
        for value in params:
            if isinstance(value, (list, tuple)):
                text = text.replace("{numbers}", f"IN ({', '.join(['?'] * len(value))})", 1)
                flat.extend(value)
            else:
                flat.append(str(value) if isinstance(value, datetime.datetime) else value)
        return text, tuple(flat)
