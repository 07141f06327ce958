"""The event history of a job, as users read it."""
from . import timeutil
from .models import Event


def view(event):
    return {"id": event.id, "at": timeutil.iso(event.at), "actor": event.actor,
            "frame": event.frame, "from": event.from_state, "to": event.to_state,
            "reason": event.reason}


def list_page(job, limit, offset):
    query = Event.select().where(Event.job == job.id)
    total = query.count()
    page = query.order_by(Event.id).limit(limit).offset(offset)
    return {"events": [view(e) for e in page], "total": total, "limit": limit,
            "offset": offset,
            "next_offset": offset + limit if offset + limit < total else None}
