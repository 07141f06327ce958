"""The word that a job ended: written for its webhook and its e-mail address in the
transaction that gives the job its final state, so it is sent if and only if the job
ended (as the outbox does for commands), whatever restarts come between."""
import json
import uuid

from .. import timeutil
from ..database.models import Job, Notification
from ..jobs.job_views import frame_counts

CHANNELS = (("webhook", "notify_url"), ("email", "notify_email"))


def write_for_end(job):
    """Write a notification per target the job carries; call inside the transaction that
    moved ``job`` to its final state. Returns those written."""
    # Read from the row, not ``job``: a caller may hold a job loaded with a few columns.
    ended = Job.get_by_id(job.id)
    wanted = [(channel, getattr(ended, column)) for channel, column in CHANNELS
              if getattr(ended, column)]
    if not wanted:
        return []
    now = timeutil.now()
    body = json.dumps(_word(ended, now), sort_keys=True)
    return [Notification.create(id=f"msg_{uuid.uuid4().hex}", job=job.id, channel=channel,
                                target=target, body=body, created_at=now,
                                next_attempt_at=now)
            for channel, target in wanted]


def _word(job, now):
    """The webhook's JSON payload, in the Standard Webhooks envelope (type, timestamp,
    data); the e-mail is written from it too."""
    return {"type": f"job.{job.state}", "timestamp": timeutil.iso(now), "data": {
        "id": job.id, "name": job.name, "state": job.state, "error": job.error,
        "cluster": job.cluster, "progress": frame_counts([job.id])[job.id],
        "created_at": timeutil.iso(job.created_at), "finished_at": timeutil.iso(now)}}
