"""ETags of a job's view and of a page of the job list made without building them, so that
a poll of an unchanged page is answered 304 for the price of a few index probes.

PostgreSQL stamps every job and frame row with the id of the transaction that last wrote
it (``change_xact``; migrations.py, ``_change_stamps``). A job's view is made of its row
and its frames' rows only (its owner's name never changes), so the largest stamp among
them names the view's version. A page of the job list is made of the views of the jobs on
it, and of which jobs those are and how many in all, which change only when one of the
caller's jobs is written (jobs are never deleted, users never renamed): its version is the
caller's latest written job beside the page's jobs' versions.

One catch: a transaction that began before the one that wrote the latest stamp, still
running, holds a smaller stamp and may commit after the tag was given, which would then
not move. A tag is therefore given only when the oldest transaction still running (the
snapshot's ``xmin``) is newer than every stamp it is made of: each write still to commit
then carries a larger one. Otherwise, as for a job being rendered at that moment, there is
no tag here and the answer is built and its body hashed (``httpio.send_json_tagged``).
What a tag is made of is read in one snapshot, and before the answer is built. SQLite
stamps nothing: no tag there.
"""
import hashlib

from ..database.db import database, is_postgres
from ..database.models import Job

# Every statement of the transaction reads the snapshot its first one took.
_ONE_SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
_OLDEST_RUNNING = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
_LATEST_JOB = "SELECT MAX(change_xact) FROM job"
_LATEST_JOB_OF = "SELECT MAX(change_xact) FROM job WHERE owner_id = %s"
# Each job's latest stamp, its row's or its latest frame's (an index probe each), and the
# oldest transaction still running.
_STAMPS = (
    "SELECT job.id, GREATEST(COALESCE(job.change_xact, 0), COALESCE((SELECT "
    "MAX(frame.change_xact) FROM frame WHERE frame.job_id = job.id), 0)), "
    "pg_snapshot_xmin(pg_current_snapshot())::text::bigint "
    "FROM job WHERE job.id = ANY(%s)")


def of_job(job_id):
    """The ETag of job ``job_id``'s view, or None when none can be given now."""
    if not is_postgres():
        return None
    return _tag("job", [job_id])


def of_listing(principal, query, order_by, limit, offset, filters):
    """The ETag of a page of the job list, or None: ``query`` (the jobs ``principal`` may
    see, ``filters`` applied) and the rest are pagination.page's arguments."""
    if not is_postgres():
        return None
    with database.atomic():
        database.execute_sql(_ONE_SNAPSHOT)
        ids = [row[0] for row in query.columns(Job.id).order_by(order_by).limit(limit)
               .offset(offset).tuples()]
        if principal.kind == "admin":
            latest = database.execute_sql(_LATEST_JOB).fetchone()[0]
        else:
            latest = database.execute_sql(_LATEST_JOB_OF, (principal.user_id,)).fetchone()[0]
        return _tag(f"list {limit} from {offset} where {sorted(filters.items())}", ids,
                    latest or 0)


def _tag(kind, job_ids, latest_job=0):
    rows = database.execute_sql(_STAMPS, (job_ids,)).fetchall()
    if len(rows) != len(job_ids):
        return None  # a job not found: answered as the body says
    stamps = {job_id: stamp for job_id, stamp, _ in rows}
    oldest_running = rows[0][2] if rows else _oldest_running()
    if oldest_running <= max([latest_job, *stamps.values()]):
        return None
    version = f"{kind}: {latest_job}: " + " ".join(f"{job_id}.{stamps[job_id]}"
                                                   for job_id in job_ids)
    return '"v' + hashlib.sha256(version.encode("utf-8")).hexdigest()[:32] + '"'


def _oldest_running():
    return database.execute_sql(_OLDEST_RUNNING).fetchone()[0]
