"""When a row's stamp can be trusted to order it against a poll.

PostgreSQL stamps every job and frame row with the id of the transaction that last wrote
it (``change_xact``; migrations.py, ``_change_stamps``). Ids are taken when a transaction
begins to write, not when it commits, so a transaction with a smaller id may commit after
one with a larger. What never happens is a write still to commit whose id is below the
oldest transaction running when a snapshot was taken (the snapshot's ``xmin``): every
transaction under it had ended, and what it wrote is in that snapshot. That horizon is the
one rule both the ETags (jobs/job_tags.py) and the frames' cursor (frames/frame_cursor.py)
rest on. SQLite stamps nothing.
"""
from .db import database

# The oldest transaction running when the statement's snapshot was taken; as a bigint, as
# the stamps are stored.
OLDEST_RUNNING = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"


def oldest_running():
    """The horizon now: every write not yet visible carries a stamp at or above it."""
    return database.execute_sql(f"SELECT {OLDEST_RUNNING}").fetchone()[0]
