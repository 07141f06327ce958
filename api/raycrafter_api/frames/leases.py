"""Frame leases for node agents: claim, heartbeat, complete, fail, release, expiry.

A claim leases a chunk: a run of consecutive frames under one lease id, rendered by one
renderer process. Each frame of it is completed, failed or released on its own; a
heartbeat through any frame of the chunk extends every frame still leased; when the lease
expires, only the frames not yet done go back.

Locking (PostgreSQL): a claim picks its frames with ``FOR UPDATE SKIP LOCKED`` and never
waits for another frame; calls on one frame lock that frame first (an agent heartbeats
through its chunk's first frame, then the update takes the others, in the order of their
numbers as every update of many frames does); ``complete`` may then lock one more leased
frame, with ``SKIP LOCKED``, so it never waits for it; the job row is always the last lock
taken (by a state change or by ``complete`` counting what is left), and its holder waits
for nothing after it, so the locks cannot form a cycle. On SQLite every call runs in a
``BEGIN IMMEDIATE`` transaction, which serialises writers.
"""
import datetime
import json
import uuid

import peewee

from raycrafter_contract.naming import MAX_CLAIM_FRAMES, MAX_HOLDER_CHARS, MAX_REASON_CHARS
from raycrafter_contract.states import FRAME_STATES
from raycrafter_contract.wire.agent_calls import (AgentJob, ClaimEnded, ClaimLeased, ClaimWait,
                                                  FrameStateAnswer, HeartbeatAnswer,
                                                  LeaseTerms)
from raycrafter_contract.wire.jobs import FrameSpan

from .. import timeutil
from ..database.db import database, locked, write_transaction
from ..database.models import Event, Frame, Job
from ..jobs import job_states, job_views
from ..metrics import series
from ..problems import Problem, bad_field, conflict, not_found

WAIT_SECONDS = 10
# A batch job can start before the worker has reported it submitted, which it does right
# after the scheduler answers: its agent asks again soon, as its first frame waits on it.
UNREPORTED_WAIT_SECONDS = 1
# A log tail longer than this keeps only its end (a failure reason: MAX_REASON_CHARS).
LOG_TAIL_CHARS = 16_384
# A chunk is sized from the render times of the job's last frames rendered, this many.
RENDER_TIME_SAMPLE = 100
# The frame states that keep a job from being rendered.
UNFINISHED = tuple(state for state in FRAME_STATES if state != "done")
# What lease calls read of a frame: not its log tail and error (up to 16 KiB each, kept
# from a failed attempt), which they only write.
LEASE_FIELDS = (Frame.id, Frame.job, Frame.number, Frame.state, Frame.attempts,
                Frame.lease_id, Frame.lease_holder, Frame.lease_expires_at)


def _tail(text, limit):
    return None if text is None else text[-limit:]


def _frame_events(frames, to, actor, reason, now):
    """The event of each frame's change of state, in one statement: a chunk's claim moves
    up to ``max_chunk_frames`` frames at once."""
    Event.insert_many([{"job": frame.job_id, "frame": frame.number, "at": now, "actor": actor,
                        "from_state": frame.state, "to_state": to, "reason": reason}
                       for frame in frames]).execute()


def _count_attempt(job, frame, actor, reason, config, now):
    """One attempt at ``frame`` went wrong: back to pending, or failed (and the job with it)
    after ``max_attempts``. Returns the frame's new state."""
    attempts = frame.attempts + 1
    to = "failed" if attempts >= config.max_attempts else "pending"
    Frame.update(state=to, attempts=attempts, lease_id=None, lease_holder=None,
                 lease_expires_at=None, error=_tail(reason, MAX_REASON_CHARS), updated_at=now
                 ).where(Frame.id == frame.id).execute()
    _frame_events([frame], to, actor, reason, now)
    if to == "failed":
        current = locked(Job.select().where(Job.id == job.id)).get()
        job_states.fail(current, "system",
                  f"frame {frame.number} failed {attempts} times (last: {reason}); "
                  f"see `raycrafter logs {job.id} --frame {frame.number}` (or GET "
                  f"/api/v1/jobs/{job.id}/frames/{frame.number}/log), fix the scene "
                  f"or its settings, and submit a new job")
    return to


def expire_overdue(job, config, now):
    """Return frames whose lease ran out to pending (attempts + 1) or fail them. Answers
    whether it expired any, so that callers read the job and its frames again only then."""
    overdue = list(locked(Frame.select(*LEASE_FIELDS)
                          .where(Frame.job == job.id, Frame.state == "leased",
                                 Frame.lease_expires_at < now)
                          .order_by(Frame.number), skip_locked=True))
    for frame in overdue:
        _count_attempt(job, frame, "system",
                       f"lease expired: {frame.lease_holder or 'the node'} stopped sending "
                       f"heartbeats", config, now)
    # Counted before the caller commits: its transaction is short and local, and a lease
    # counted twice after a failed commit tells the operator no less.
    series.LEASES_EXPIRED.inc(len(overdue))
    return bool(overdue)


def expire_all_overdue(config):
    """Expire overdue leases of every job (the relay's reconcile loop). Returns job ids."""
    now = timeutil.now()
    job_ids = sorted({f.job_id for f in Frame.select(Frame.job).where(
        Frame.state == "leased", Frame.lease_expires_at < now)})
    for job_id in job_ids:
        with write_transaction():
            expire_overdue(Job.get_by_id(job_id), config, now)
    return job_ids


def _lease(now, config):
    return now + datetime.timedelta(seconds=config.lease_seconds)


def claim(job_id, holder, config, max_frames=1):
    """Lease the next pending frames of the job to ``holder`` under one lease: a run of
    consecutive frames (a chunk) as long as ``chunk_size`` allows, at most ``max_frames``
    (what the agent can render in one go); see docs/protocol.md."""
    if (not isinstance(holder, str) or not holder.strip() or len(holder) > MAX_HOLDER_CHARS
            or not holder.isprintable()):
        raise bad_field("holder", f"must be the node's name (1 to {MAX_HOLDER_CHARS} "
                                  f"printable characters)")
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) \
            or not 1 <= max_frames <= MAX_CLAIM_FRAMES:
        raise bad_field("max_frames", f"must be an integer from 1 to {MAX_CLAIM_FRAMES}")
    now = timeutil.now()
    with write_transaction():
        job = Job.get_by_id(job_id)
        if job.state in ("pending", "staging"):
            return ClaimWait(UNREPORTED_WAIT_SECONDS)
        if job.state in ("submitted", "running") and expire_overdue(job, config, now):
            job = Job.get_by_id(job_id)
        if job.state in ("cancelled", "failed"):
            return ClaimEnded("cancelled")
        if job.state in ("collecting", "done"):
            return ClaimEnded("finished")
        # One frame asked for needs no chunk sized (a chunk is never empty).
        size = 1 if max_frames == 1 else min(max_frames, chunk_size(job_id, config))
        chunk = _consecutive(list(locked(
            Frame.select(*LEASE_FIELDS).where(Frame.job == job_id, Frame.state == "pending")
            .order_by(Frame.number).limit(size), skip_locked=True)), job.frame_step)
        if not chunk:
            return _nothing_to_claim(job_id, now)
        lease_id = str(uuid.uuid4())
        expires = _lease(now, config)
        Frame.update(state="leased", lease_id=lease_id, lease_holder=holder,
                     lease_expires_at=expires, updated_at=now).where(
            Frame.id.in_([frame.id for frame in chunk])).execute()
        _frame_events(chunk, "leased", f"agent:{holder}", None, now)
        if job.state == "submitted":
            job_states.transition_unless_moved(job, "running", f"agent:{holder}",
                                         "the first frame was claimed")
    return ClaimLeased(frame=chunk[0].number, attempt=chunk[0].attempts + 1,
                       frames=tuple(frame.number for frame in chunk),
                       lease=LeaseTerms(lease_id, timeutil.iso(expires), config.lease_seconds),
                       job=agent_job_view(job))


def chunk_size(job_id, config):
    """How many frames one claim leases: as many as render in about
    ``chunk_target_seconds`` at the mean render time of the job's last frames rendered,
    at most ``max_chunk_frames``, and no more than a fair share of the pending frames among
    the chunks in flight and this one (so the renderers working on a job finish together);
    1 while nothing is rendered yet, so the first frame comes soonest.

    Every query here reads a bounded number of index entries, whatever the job's size:
    a claim on a job of a million frames costs what it costs on a thousand
    (bench/claim_scaling.py)."""
    recent = (Frame.select(Frame.render_seconds)
              .where(Frame.job == job_id, Frame.state == "done")
              .order_by(Frame.number.desc()).limit(RENDER_TIME_SAMPLE))
    mean = Frame.select(peewee.fn.AVG(recent.c.render_seconds)).from_(recent).scalar()
    if mean is None:
        return 1
    by_time = int(config.chunk_target_seconds / max(float(mean), 0.001))
    in_flight = (Frame.select(peewee.fn.COUNT(peewee.fn.DISTINCT(Frame.lease_id)))
                 .where(Frame.job == job_id, Frame.state == "leased").scalar())
    largest = min(config.max_chunk_frames, by_time)
    # Past this many pending frames the fair share is no smaller than ``largest``.
    pending = (Frame.select().where(Frame.job == job_id, Frame.state == "pending")
               .limit(largest * (in_flight + 1)).count())
    fair_share = -(-pending // (in_flight + 1))
    return max(1, min(largest, fair_share))


def _consecutive(frames, step):
    """The leading run of ``frames`` (ordered by number) without a gap: a chunk is
    rendered by one renderer process as a range of the animation."""
    run = frames[:1]
    for frame in frames[1:]:
        if frame.number != run[-1].number + step:
            break
        run.append(frame)
    return run


def _nothing_to_claim(job_id, now):
    """No pending frame: wait while others hold leases, else the job is finished here."""
    soonest = (Frame.select(Frame.lease_expires_at)
               .where(Frame.job == job_id, Frame.state == "leased")
               .order_by(Frame.lease_expires_at).first())
    if soonest is None:
        return ClaimEnded("finished")
    remaining = (soonest.lease_expires_at - now).total_seconds()
    return ClaimWait(int(min(max(remaining, 1), WAIT_SECONDS * 6)))


def agent_job_view(job):
    """What an agent needs to render a frame of ``job``."""
    return AgentJob(id=job.id, width=job.width, height=job.height,
                    frames=FrameSpan(job.frame_first, job.frame_last, job.frame_step),
                    animation=job_views.animation_view(job), renderer=job.renderer,
                    options=json.loads(job.options), scene_file=job.scene_file)


def _held_frame(job_id, number, lease_id, config, now):
    """The frame, locked, and its job, once an overdue lease of the frame has expired, so
    the caller can compare ``lease_id`` with the current lease.

    A frame still leased tells by its own expiry, which every leased frame of its chunk
    shares (claims and heartbeats set them together). Any other frame (done, or handed
    back) may name a chunk whose other frames are overdue: then the job's overdue leases
    are expired. Other chunks' overdue leases are left to the next claim, which expires
    them before it looks for frames, and to the reconcile loop."""
    if not isinstance(lease_id, str) or not lease_id:
        raise bad_field("lease_id", "is required")
    frame = locked(Frame.select(*LEASE_FIELDS)
                   .where(Frame.job == job_id, Frame.number == number)).first()
    if frame is None:
        raise not_found("frame")
    job = _job_state(job_id)
    lease_current = frame.state == "leased" and frame.lease_expires_at >= now
    if (job.state in ("submitted", "running") and not lease_current
            and expire_overdue(job, config, now)):
        frame = Frame.select(*LEASE_FIELDS).where(Frame.id == frame.id).get()
        job = _job_state(job_id)
    return job, frame


def _job_state(job_id):
    """The job's id and state: all that a call on one of its frames reads of it (a state
    change reads the whole job again, locked)."""
    return Job.select(Job.id, Job.state).where(Job.id == job_id).get()


def _stale(frame):
    return conflict("stale_lease", f"lease is not the current lease of frame {frame.number}",
                    {"frame": frame.number, "frame_state": frame.state})


def _job_not_active(job):
    return conflict("job_not_active", f"the job is {job.state}", {"job_state": job.state})


def _run(job_id, number, lease_id, config, action):
    """Run ``action(job, frame, now)`` on a held frame. Expiry found on the way is committed
    even when the call itself is refused, so a refusal never rolls back an expiry."""
    now = timeutil.now()
    with write_transaction():
        job, frame = _held_frame(job_id, number, lease_id, config, now)
        try:
            return action(job, frame, now)
        except Problem as problem:
            refusal = problem
    raise refusal


def heartbeat(job_id, number, lease_id, config):
    """Extend the lease of every frame it still holds. The agent may name any frame of
    the chunk, also one it already completed: the lease lives on in its other frames."""
    def extend(job, frame, now):
        if job.state not in ("submitted", "running"):
            raise _job_not_active(job)
        if frame.lease_id != lease_id or frame.state not in ("leased", "done"):
            raise _stale(frame)
        expires = _lease(now, config)
        held = Frame.update(lease_expires_at=expires, updated_at=now).where(
            Frame.job == job_id, Frame.lease_id == lease_id, Frame.state == "leased").execute()
        if not held:
            raise _stale(frame)
        return HeartbeatAnswer(timeutil.iso(expires))
    return _run(job_id, number, lease_id, config, extend)


def complete(job_id, number, body, config):
    lease_id = body.get("lease_id")
    checksum = body.get("checksum")
    if not isinstance(checksum, str) or not _is_sha256(checksum):
        raise bad_field("checksum", "must be a lowercase SHA-256 hex digest")
    render_seconds = _number(body, "render_seconds")
    size = body.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise bad_field("size", "must be a positive integer (bytes)")
    log_tail = _text(body, "log_tail")
    rendered = []

    def finish(job, frame, now):
        if frame.state == "done" and frame.lease_id == lease_id:
            return FrameStateAnswer("done")  # a retried call that already succeeded
        rendered.append(frame.number)
        if job.state not in ("submitted", "running"):
            raise _job_not_active(job)
        if frame.state != "leased" or frame.lease_id != lease_id:
            raise _stale(frame)
        Frame.update(state="done", render_seconds=render_seconds, checksum=checksum,
                     size=size, log_tail=_tail(log_tail, LOG_TAIL_CHARS),
                     lease_expires_at=None, updated_at=now).where(
            Frame.id == frame.id).execute()
        _frame_events([frame], "done", f"agent:{frame.lease_holder}", None, now)
        if _another_leased_frame_held(job_id, frame):
            return FrameStateAnswer("done")  # frames are left when this commits
        # Lock the job last, then count: concurrent completions of the last frames
        # serialise here, so exactly one of them sees nothing left.
        current = locked(Job.select().where(Job.id == job_id)).get()
        if not _frames_left(job_id) and current.state in ("submitted", "running"):
            job_states.transition(current, "collecting", "system", "every frame is rendered")
        return FrameStateAnswer("done")
    answer = _run(job_id, number, lease_id, config, finish)
    if rendered:  # counted once committed, so a retried report is not counted again
        series.FRAMES_COMPLETED.inc()
        series.FRAME_RENDER_SECONDS.observe(render_seconds)
    return answer


def _another_leased_frame_held(job_id, frame):
    """Lock another leased frame of the job until this transaction ends, if one is free.

    No one can complete a frame locked here, so it is still not done when this completion
    commits: this completion cannot be the one that leaves nothing to render, and need not
    lock the job (every completion of the job would otherwise queue for that lock in
    turn). The completion that does leave nothing finds no such frame and counts under the
    job's lock. SKIP LOCKED: this never waits; claims never meet the frame (they lock
    pending ones), its holder's own calls on it wait until this commits. The most recently
    leased first, as frames leased earlier are the likelier to be reported now. On SQLite
    the transaction holds the database's write lock, which does the same."""
    return locked(Frame.select(Frame.id)
                  .where(Frame.job == job_id, Frame.state == "leased", Frame.id != frame.id)
                  .order_by(Frame.lease_expires_at.desc()).limit(1), skip_locked=True
                  ).first() is not None


def _frames_left(job_id):
    """Whether any frame of the job is not done: for each state other than done, its
    highest frame number, read off the (job, state, number) index at the end claims have
    not reached, so it costs the same however many frames are done or were claimed. (A
    plain ``state != 'done'`` lets PostgreSQL read done frames until it meets another:
    0.07 s with half a million done, on every frame completed.)"""
    probes = [Frame.select(Frame.number).where(Frame.job == job_id, Frame.state == state)
              .order_by(Frame.number.desc()).limit(1) for state in UNFINISHED]
    return peewee.Select(columns=[peewee.fn.COALESCE(*probes)]).scalar(database) is not None


def fail(job_id, number, body, config):
    lease_id = body.get("lease_id")
    reason = _text(body, "reason")
    if not reason:
        raise bad_field("reason", "is required")
    log_tail = _text(body, "log_tail")

    def give_up(job, frame, now):
        if frame.state != "leased" or frame.lease_id != lease_id:
            raise _stale(frame)
        Frame.update(log_tail=_tail(log_tail, LOG_TAIL_CHARS)).where(
            Frame.id == frame.id).execute()
        holder = frame.lease_holder
        return FrameStateAnswer(_count_attempt(job, frame, f"agent:{holder}", reason, config,
                                               now))
    answer = _run(job_id, number, lease_id, config, give_up)
    series.FRAMES_FAILED.inc()
    return answer


def release(job_id, number, body, config):
    lease_id = body.get("lease_id")

    def hand_back(job, frame, now):
        if frame.state != "leased" or frame.lease_id != lease_id:
            raise _stale(frame)
        Frame.update(state="pending", lease_id=None, lease_holder=None,
                     lease_expires_at=None, updated_at=now).where(Frame.id == frame.id).execute()
        _frame_events([frame], "pending", f"agent:{frame.lease_holder}",
                      "released by the agent", now)
        return FrameStateAnswer("pending")
    return _run(job_id, number, lease_id, config, hand_back)


def _is_sha256(text):
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _number(body, field):
    value = body.get(field)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise bad_field(field, "must be a non-negative number")
    return float(value)


def _text(body, field):
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_field(field, "must be a string")
    return value
