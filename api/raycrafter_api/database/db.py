"""The database handle: created unbound, bound once from the configuration."""
import contextlib
import time
import urllib.parse

import peewee
import psycopg2.extensions
from playhouse.pool import PooledPostgresqlDatabase

database = peewee.DatabaseProxy()
# Enough for waitress's threads plus the relay; waits up to `timeout` s beyond that.
POOL_SIZE = 64
# A pooled connection that sat unused longer than this is asked whether it still works
# before it serves a request (PooledConnections).
PING_AFTER_IDLE_SECONDS = 1.0


class PooledConnections(PooledPostgresqlDatabase):
    """The pool, asking a connection whether it still works only when it sat unused for a
    while.

    peewee's pool sends ``SELECT 1`` on every checkout, while it holds the database's one
    lock: under load every request of every thread queued behind those round trips
    (a fifth of the lease calls' time, docs/performance.md). A connection back in the pool
    within the last second is used as it is; one idle for longer is asked first, so a
    database that restarted (which takes longer than that) is noticed before a request
    uses a dead connection."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._returned_at = {}

    def _close(self, conn, close_conn=False):
        self._returned_at[self.conn_key(conn)] = time.monotonic()
        super()._close(conn, close_conn)

    def _close_raw(self, conn):
        self._returned_at.pop(self.conn_key(conn), None)
        super()._close_raw(conn)

    def _is_closed(self, conn):
        returned_at = self._returned_at.pop(self.conn_key(conn), None)
        if conn.closed:
            return True
        if returned_at is not None and time.monotonic() - returned_at < PING_AFTER_IDLE_SECONDS:
            return False
        return super()._is_closed(conn)


class PreparingConnection(psycopg2.extensions.connection):
    """A PostgreSQL connection that knows which statements it has prepared (a prepared
    statement lives as long as its session, which the pool keeps; statements.py)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.prepared = set()


def is_sqlite_url(url):
    """True for a ``sqlite:///`` URL; every other URL is PostgreSQL's."""
    return url.startswith("sqlite:///")


def connect_database(url):
    """Return an (unconnected) peewee database for a ``sqlite:///`` or ``postgresql://`` URL."""
    if is_sqlite_url(url):
        # WAL lets readers run beside the one writer; busy_timeout makes writers queue
        # instead of failing while another holds the write lock.
        return peewee.SqliteDatabase(
            url[len("sqlite:///"):],
            pragmas={"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30000,
                     "synchronous": "normal"},
            check_same_thread=False)
    # Parsed here rather than by playhouse.db_url, which passes the user, the password and
    # the database name on still percent-encoded (Salt writes the password URL-encoded).
    parsed = urllib.parse.urlsplit(url)
    # A pool, because a new PostgreSQL connection (a backend process and a SCRAM
    # handshake) costs ~10 ms, more than a claim itself. "Closing" returns it to the pool;
    # connections idle longer than stale_timeout are really closed.
    # Query parameters are libpq's own connection options, e.g. between hosts
    # ?sslmode=verify-full&sslrootcert=CA (salt/postgres/map.jinja).
    options = dict(urllib.parse.parse_qsl(parsed.query, strict_parsing=bool(parsed.query)))
    return PooledConnections(
        urllib.parse.unquote(parsed.path.lstrip("/")),
        user=urllib.parse.unquote(parsed.username or "") or None,
        password=urllib.parse.unquote(parsed.password or "") or None,
        host=parsed.hostname, port=parsed.port, max_connections=POOL_SIZE,
        stale_timeout=300, timeout=30, connection_factory=PreparingConnection, **options)


def bind(url):
    """Point the global proxy at the database named by ``url`` (closing any previous one)."""
    dispose()
    database.initialize(connect_database(url))
    return database


def dispose():
    """Really close every connection of the bound database, pooled ones included."""
    if database.obj is None:
        return
    if not database.is_closed():
        database.close()
    if hasattr(database.obj, "close_all"):
        database.obj.close_all()


def is_postgres():
    return isinstance(database.obj, peewee.PostgresqlDatabase)


def write_transaction():
    """A transaction that takes the write lock up front.

    On SQLite a plain BEGIN upgrades to a write lock only at the first write, and two such
    transactions can deadlock (SQLITE_BUSY without waiting); BEGIN IMMEDIATE serialises
    writers from the start, which is the SQLite equivalent of row locks for our short
    claim/complete transactions. On PostgreSQL row locks (FOR UPDATE) do the work.
    """
    if is_postgres():
        return database.atomic()
    return database.atomic(lock_type="IMMEDIATE")


@contextlib.contextmanager
def connection():
    """Open a connection for the duration of a block (used per request and per relay step)."""
    database.connect(reuse_if_open=True)
    try:
        yield
    finally:
        if not database.is_closed():
            database.close()


def locked(query, skip_locked=False):
    """Lock the selected rows until the transaction ends.

    PostgreSQL: ``FOR NO KEY UPDATE`` rather than ``FOR UPDATE``, because inserting a row
    that references the locked one (an event of a job) takes a KEY SHARE lock on it, which
    FOR UPDATE would wait for: two transactions that each inserted an event and then locked
    the job would deadlock. SQLite has no row locks; there the surrounding
    ``write_transaction`` already holds the database's single write lock, so the query is
    returned unchanged.
    """
    if is_postgres():
        return query.for_update("FOR NO KEY UPDATE", skip_locked=skip_locked)
    return query
