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

# In one statement, so in one snapshot: the latest stamp of the jobs whose writes move the
# tag (``{latest}``), the oldest transaction still running, and each job of ``{jobs}`` with
# its latest stamp, its row's or its latest frame's (an index probe each).
_STAMPS = (
    "SELECT ({latest}), pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
    "ARRAY(SELECT ARRAY[job.id, GREATEST(COALESCE(job.change_xact, 0), COALESCE((SELECT "
    "MAX(frame.change_xact) FROM frame WHERE frame.job_id = job.id), 0))] "
    "FROM job WHERE job.id IN ({jobs}))")
_LATEST_JOB = "SELECT MAX(change_xact) FROM job"
_LATEST_JOB_OF = "SELECT MAX(change_xact) FROM job WHERE owner_id = %s"


def of_job(job_id):
    """The ETag of job ``job_id``'s view, or None when none can be given now."""
    if not is_postgres():
        return None
    return _tag("job", _STAMPS.format(latest="0", jobs="%s"), (job_id,))


def of_listing(principal, query, order_by, limit, offset, filters):
    """The ETag of a page of the job list, or None: ``query`` (the jobs ``principal`` may
    see, ``filters`` applied) and the rest are pagination.page's arguments."""
    if not is_postgres():
        return None
    page, page_params = query.columns(Job.id).order_by(order_by).limit(limit).offset(
        offset).sql()
    if principal.kind == "admin":
        latest, latest_params = _LATEST_JOB, ()
    else:
        latest, latest_params = _LATEST_JOB_OF, (principal.user_id,)
    return _tag(f"list {limit} from {offset} where {sorted(filters.items())}",
                _STAMPS.format(latest=latest, jobs=page), (*latest_params, *page_params))


def _tag(kind, statement, params):
    latest, oldest_running, stamps = database.execute_sql(statement, params).fetchone()
    newest = max([latest or 0, *(stamp for _, stamp in stamps)])
    if oldest_running <= newest:
        return None
    version = f"{kind}: {latest}: {sorted(map(tuple, stamps))}"
    return '"v' + hashlib.sha256(version.encode("utf-8")).hexdigest()[:32] + '"'
