"""UTC time as stored (naive datetimes) and as shown (ISO 8601 with a Z)."""
import datetime


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def iso(moment):
    """Render a stored naive-UTC datetime as ``2026-11-22T10:00:00Z`` (None stays None)."""
    if moment is None:
        return None
    return moment.replace(microsecond=0).isoformat() + "Z"
