"""ETags of a job's view and of a page of the job list made without building them, so that
a poll of an unchanged page is answered 304 for the price of an index probe.

PostgreSQL stamps every job and frame row with the id of the transaction that last wrote
it (``change_xact``; migrations.py, ``_change_stamps``), and a job's view is made of its
row and its frames' rows only (its owner's name never changes). So the largest stamp among
them names the view's version, with one catch: a transaction that began before the one
that wrote it, still running, holds a smaller stamp and may commit after the tag was
given, which would then not move. A tag is therefore given only when the oldest
transaction still running (the snapshot's ``xmin``) is newer than the job's latest stamp:
every write still to commit then carries a larger one. Otherwise, as for a job being
rendered at that moment, there is no tag here and the answer is built and its body hashed
(``httpio.send_json_revalidated``). SQLite stamps nothing: no tag there.
"""
import hashlib

from ..database.db import database, is_postgres
from ..database.models import Job

# Each job's latest stamp, its row's or its latest frame's (an index probe each), and the
# oldest transaction still running.
_STAMPS = (
    "SELECT job.id, GREATEST(COALESCE(job.change_xact, 0), COALESCE((SELECT "
    "MAX(frame.change_xact) FROM frame WHERE frame.job_id = job.id), 0)), "
    "pg_snapshot_xmin(pg_current_snapshot())::text::bigint "
    "FROM job WHERE job.id = ANY(%s)")


def of_job(job_id):
    """The ETag of job ``job_id``'s view, or None when none can be given now."""
    return _tag("job", [job_id])


def of_listing(query, order_by, limit, offset):
    """The ETag of a page of the job list (pagination.page's arguments), or None: made
    of where the page begins and ends, the jobs it holds, their versions and how many
    there are in all."""
    if not is_postgres():
        return None
    ids = [row[0] for row in query.columns(Job.id).order_by(order_by).limit(limit)
           .offset(offset).tuples()]
    return _tag(f"list {limit} from {offset} of {query.count()}", ids)


def _tag(kind, job_ids):
    if not is_postgres():
        return None
    rows = database.execute_sql(_STAMPS, (job_ids,)).fetchall()
    if len(rows) != len(job_ids):
        return None  # a job gone, or none: built and hashed as any answer
    stamps = dict((job_id, stamp) for job_id, stamp, _ in rows)
    oldest_running = rows[0][2] if rows else None
    if rows and oldest_running <= max(stamps.values()):
        return None
    version = f"{kind}: " + " ".join(f"{job_id}.{stamps[job_id]}" for job_id in job_ids)
    return '"v' + hashlib.sha256(version.encode("utf-8")).hexdigest()[:32] + '"'
