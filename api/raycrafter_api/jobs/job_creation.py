"""A new job: its row, its frames, its first event and its ``submit`` command, at once
(job_requests.py validates the request first)."""
import logging

import peewee
from raycrafter_contract import job_logging
from raycrafter_contract.states import command_on_entering

from .. import timeutil
from ..database.db import database, is_postgres, write_transaction
from ..database.models import Event, Frame, Job
from ..outbox import commands

log = logging.getLogger(__name__)


def create(owner, values, scene, principal, store_input):
    """Create a pending job with its frames, its first event and a ``submit`` command,
    all in one transaction. ``store_input(job)`` moves the validated upload into place;
    ``values["notes"]`` (what the scene's INI file gave) goes into the first event."""
    now = timeutil.now()
    values = dict(values)
    notes = values.pop("notes", "")
    with write_transaction():
        job = Job.create(owner=owner, state="pending", scene_kind=scene.kind,
                         scene_size=scene.size,
                         scene_checksum=scene.checksum, created_at=now, updated_at=now,
                         state_changed_at=now, **values)
        numbers = range(job.frame_first, job.frame_last + 1, job.frame_step)
        rows = [{"job": job.id, "number": n, "state": "pending", "updated_at": now}
                for n in numbers]
        for chunk in peewee.chunked(rows, 500):
            Frame.insert_many(chunk).execute()
        Event.create(job=job, at=now, actor=principal.actor, from_state=None,
                     to_state="pending", reason="job created" + (f"; {notes}" if notes else ""))
        commands.write_command(job, command_on_entering(None, "pending"))
        store_input(job)
    with job_logging.about_job(job.id):
        log.info("job %s: created by %s: frames %s-%s step %s of a %s scene (%d bytes) for "
                 "cluster %s", job.id, principal.actor, job.frame_first, job.frame_last,
                 job.frame_step, scene.kind, scene.size, job.cluster)
    _count_frames_for_the_planner()
    return job


def _count_frames_for_the_planner():
    """Bring PostgreSQL's statistics of the frame table up to date with the new job.

    Statistics taken before the job existed make the planner expect a frame or two of it,
    and it then reads every lease query of the job off the index on job_id alone: all of
    the job's frames, on every call, until autovacuum analyzes the table, which it does
    only once a tenth of the table has changed. SKIP_LOCKED: never waits for a vacuum or
    another analyze of the table."""
    if is_postgres():
        database.execute_sql("ANALYZE (SKIP_LOCKED) frame (job_id, state)")
