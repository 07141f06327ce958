"""The event history of a job, as users read it."""
from .. import timeutil
from ..database import pagination
from ..database.models import Event


def view(event):
    return {"id": event.id, "at": timeutil.iso(event.at), "actor": event.actor,
            "frame": event.frame, "from": event.from_state, "to": event.to_state,
            "reason": event.reason}


def list_page(job, limit, offset):
    return pagination.page(Event.select().where(Event.job == job.id), Event.id, limit, offset,
                           "events", lambda rows: [view(e) for e in rows])
