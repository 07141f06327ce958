"""The notifications waiting to go out, and what each attempt leaves behind: delivered,
given up, or tried again after a backoff (30 s doubling to an hour, with jitter) until
``notify_retry_seconds`` after the job ended."""
import datetime

from raycrafter_contract.utilities.backoff import Backoff

from .. import timeutil
from ..database.models import Job, Notification

FIRST_RETRY_SECONDS = 30.0
LAST_RETRY_SECONDS = 3600.0


def due(limit):
    """The notifications whose next attempt is due, the longest waiting first."""
    return list(Notification.select()
                .where(Notification.next_attempt_at <= timeutil.now())
                .order_by(Notification.next_attempt_at, Notification.id).limit(limit))


def claim(notification, hold_seconds):
    """Take ``notification`` for one attempt: its next attempt moves ``hold_seconds`` on,
    so another notifier passes it by and a notifier killed mid-attempt tries again after
    that. False if another notifier took it first."""
    held_until = timeutil.now() + datetime.timedelta(seconds=hold_seconds)
    return bool(Notification.update(next_attempt_at=held_until).where(
        Notification.id == notification.id,
        Notification.next_attempt_at == notification.next_attempt_at).execute())


def owner_of(notification):
    return Job.select(Job.owner).where(Job.id == notification.job_id).get().owner_id


def delivered(notification):
    Notification.update(delivered_at=timeutil.now(), next_attempt_at=None, last_error=None,
                        attempts=Notification.attempts + 1).where(
        Notification.id == notification.id).execute()


def failed(notification, error, retry_seconds, permanent=False):
    """Record a failed attempt; the next one comes after a backoff, unless the failure is
    ``permanent`` or the notification is older than ``retry_seconds``: then it is given
    up. Returns when it is tried next (None: given up)."""
    now = timeutil.now()
    backoff = Backoff(first=FIRST_RETRY_SECONDS, cap=LAST_RETRY_SECONDS)
    backoff.failures = notification.attempts
    next_attempt = now + datetime.timedelta(seconds=backoff.next_delay())
    if permanent or next_attempt > notification.created_at + datetime.timedelta(
            seconds=retry_seconds):
        next_attempt = None
    Notification.update(next_attempt_at=next_attempt, last_error=str(error)[:1000],
                        attempts=Notification.attempts + 1).where(
        Notification.id == notification.id).execute()
    return next_attempt
