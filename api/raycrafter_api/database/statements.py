"""The hot paths' statements as SQL text, written once per kind of database.

peewee builds a statement's text again on every call and wraps each row it reads in a
model: about 0.2 ms of the interpreter's time per statement, which on the lease calls was
most of the API's CPU (docs/performance.md). The statements here are the same on every call
but for their parameters, so their text is made once and their rows come back as plain
named tuples.

A template is PostgreSQL's SQL with ``%s`` for each parameter, ``{lock}`` and
``{skip_locked}`` where PostgreSQL locks the rows read (``locked`` in db.py says why
``FOR NO KEY UPDATE``; SQLite has no row locks, its write transaction holds the whole
database), and ``{numbers}`` where a list of frame numbers goes (one ``%s`` per number);
for SQLite every ``%s`` becomes ``?``, and a time is passed in the text form peewee keeps
times in there. Times are compared in SQL, never read back, so that text form never
reaches the code.
"""
import collections
import datetime

import peewee
import psycopg2.extras

from .db import database, is_postgres

_LOCKS = {True: {"lock": " FOR NO KEY UPDATE", "skip_locked": " FOR NO KEY UPDATE SKIP LOCKED"},
          False: {"lock": "", "skip_locked": ""}}
# Rows changed per round trip by ``execute_many`` on PostgreSQL (a chunk's frames at most).
_BATCH_ROWS = 1000


class Statement:
    """One statement; ``columns`` names what a SELECT returns (its rows are named tuples
    with those fields)."""

    def __init__(self, template, columns=None):
        self._template = template
        self._row = collections.namedtuple("Row", columns) if columns else None
        self._texts = {}
        # How many parameters come before ``{numbers}``, where the numbers are put.
        self._numbers_at = template.partition("{numbers}")[0].count("%s")

    def text(self, numbers=0):
        """The statement's text for the bound database, with ``numbers`` parameters where
        ``{numbers}`` stands."""
        postgres = is_postgres()
        key = (postgres, numbers)
        text = self._texts.get(key)
        if text is None:
            text = self._template.format(numbers=", ".join(["%s"] * numbers),
                                         **_LOCKS[postgres])
            if not postgres:
                text = text.replace("%s", "?")
            text = self._texts[key] = text
        return text

    def execute(self, *params, numbers=()):
        """Run the statement; ``numbers`` fill ``{numbers}``. Returns the cursor."""
        if numbers:
            at = self._numbers_at
            params = params[:at] + tuple(numbers) + params[at:]
        return database.execute_sql(self.text(len(numbers)), _as_stored(params))

    def rows(self, *params, numbers=()):
        return [self._row(*row) for row in self.execute(*params, numbers=numbers).fetchall()]

    def first(self, *params, numbers=()):
        row = self.execute(*params, numbers=numbers).fetchone()
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
                psycopg2.extras.execute_batch(cursor, self.text(), rows, page_size=_BATCH_ROWS)
            else:
                cursor.executemany(self.text(), [_as_stored(row) for row in rows])


def _as_stored(params):
    """On SQLite, times as the text peewee stores them (``2026-11-22 10:00:00.250000``),
    so that comparing them in SQL compares the same forms."""
    if is_postgres():
        return params
    return tuple(str(value) if isinstance(value, datetime.datetime) else value
                 for value in params)

