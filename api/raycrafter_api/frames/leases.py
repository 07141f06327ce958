"""Frame leases for node agents: claim, heartbeat, expiry; what agents report of the
frames they hold is ``frame_reports.py``'s.

A claim leases a chunk: a run of consecutive frames under one lease id, rendered by one
renderer process. Each frame of it is completed, failed or released on its own (or several
in one report); a heartbeat through any frame of the chunk extends every frame still
leased; when the lease expires, only the frames not yet done go back.

Locking (PostgreSQL): a claim picks its frames with ``FOR UPDATE SKIP LOCKED`` and never
waits for another frame; a report locks the frames it names first, in the order of their
numbers as every statement on many frames takes them (an agent heartbeats through its
chunk's first frame, and the update takes the others); a completion may then lock one
more leased frame, with ``SKIP LOCKED``, so it never waits for it; the job row is always
the last lock taken (by a state change or by a completion counting what is left), and its
holder waits for nothing after it, so the locks cannot form a cycle. On SQLite every call
runs in a ``BEGIN IMMEDIATE`` transaction, which serialises writers.

The statements every claim, heartbeat and report runs are SQL text written once
(``database/statements.py``); what runs rarely (expiry, a job's change of state) goes
through peewee's models.
"""
import datetime
import json
import uuid

from raycrafter_contract.naming import MAX_CLAIM_FRAMES, MAX_HOLDER_CHARS, MAX_REASON_CHARS
from raycrafter_contract.wire.agent_calls import (AGENT_PROTOCOL, AgentJob, ClaimEnded,
                                                  ClaimLeased, ClaimWait, HeartbeatAnswer,
                                                  LeaseTerms)
from raycrafter_contract.wire.jobs import FrameSpan

from .. import timeutil
from ..database.db import locked, write_transaction
from ..database.models import Frame, Job
from ..database.statements import Statement
from ..jobs import job_states, job_views
from ..metrics import series
from ..problems import bad_field, conflict, not_found

WAIT_SECONDS = 10
# A batch job can start before the worker has reported it submitted, which it does right
# after the scheduler answers: its agent asks again soon, as its first frame waits on it.
UNREPORTED_WAIT_SECONDS = 1
# A chunk is sized from the render times of the job's last frames rendered, this many.
RENDER_TIME_SAMPLE = 100
# The job states in which agents render (their leases count, they may report frames).
ACTIVE = ("submitted", "running")

_AGENT_JOB_COLUMNS = ("id", "state", "width", "height", "frame_first", "frame_last",
                      "frame_step", "anim_initial_frame", "anim_final_frame",
                      "anim_initial_clock", "anim_final_clock", "anim_cyclic", "renderer",
                      "options", "scene_file")
_JOB_FOR_AGENTS = Statement(f"SELECT {', '.join(_AGENT_JOB_COLUMNS)} FROM job WHERE id = %s",
                            _AGENT_JOB_COLUMNS)
_JOB_STATE = Statement("SELECT state FROM job WHERE id = %s")
_PENDING = Statement(
    "SELECT id, number, attempts FROM frame WHERE job_id = %s AND state = 'pending' "
    "ORDER BY number LIMIT %s{skip_locked}", ("id", "number", "attempts"))
# A chunk is every frame of the job numbered from its first to its last, all of them
# pending and locked by the claim.
_LEASE_CHUNK = Statement(
    "UPDATE frame SET state = 'leased', lease_id = %s, lease_holder = %s, "
    "lease_expires_at = %s, updated_at = %s "
    "WHERE job_id = %s AND state = 'pending' AND number BETWEEN %s AND %s")
_CHUNK_LEASED_EVENTS = Statement(
    "INSERT INTO event (job_id, frame, at, actor, from_state, to_state, reason) "
    "SELECT job_id, number, %s, %s, 'pending', 'leased', NULL FROM frame "
    "WHERE job_id = %s AND state = 'leased' AND number BETWEEN %s AND %s")
_EVENT = Statement(
    "INSERT INTO event (job_id, frame, at, actor, from_state, to_state, reason) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)")
# What lease calls read of a frame (not its log tail and error, up to 16 KiB each, which
# they only write), and whether its lease is current: leased, and not past its expiry.
FRAME_COLUMNS = ("id", "number", "state", "attempts", "lease_id", "lease_holder", "current")
_FRAMES = Statement(
    "SELECT id, number, state, attempts, lease_id, lease_holder, "
    "state = 'leased' AND lease_expires_at >= %s FROM frame "
    "WHERE job_id = %s AND number {numbers} ORDER BY number{lock}", FRAME_COLUMNS)
_OVERDUE = Statement(
    "SELECT id, number, state, attempts, lease_id, lease_holder, FALSE FROM frame "
    "WHERE job_id = %s AND state = 'leased' AND lease_expires_at < %s "
    "ORDER BY number{skip_locked}", FRAME_COLUMNS)
_COUNT_ATTEMPT = Statement(
    "UPDATE frame SET state = %s, attempts = %s, lease_id = NULL, lease_holder = NULL, "
    "lease_expires_at = NULL, error = %s, updated_at = %s WHERE id = %s")
# The whole heartbeat while all is well: the lease still holds the frame named (leased or
# done under it), its other frames are not overdue, and the job is active.
_EXTEND_HELD_LEASE = Statement(
    "UPDATE frame SET lease_expires_at = %s, updated_at = %s "
    "WHERE job_id = %s AND lease_id = %s AND state = 'leased' AND lease_expires_at >= %s "
    "AND EXISTS (SELECT 1 FROM frame AS named WHERE named.job_id = %s "
    "AND named.number = %s AND named.lease_id = %s AND named.state IN ('leased', 'done')) "
    "AND EXISTS (SELECT 1 FROM job WHERE job.id = %s AND job.state IN ('submitted', 'running'))")
_EXTEND_LEASE = Statement(
    "UPDATE frame SET lease_expires_at = %s, updated_at = %s "
    "WHERE job_id = %s AND lease_id = %s AND state = 'leased'")
_RENDER_TIMES = Statement(
    "SELECT (SELECT AVG(render_seconds) FROM (SELECT render_seconds FROM frame "
    "WHERE job_id = %s AND state = 'done' ORDER BY number DESC LIMIT %s) AS recent), "
    "(SELECT COUNT(DISTINCT lease_id) FROM frame WHERE job_id = %s AND state = 'leased')",
    ("mean", "in_flight"))
_PENDING_UP_TO = Statement(
    "SELECT COUNT(*) FROM (SELECT 1 FROM frame WHERE job_id = %s AND state = 'pending' "
    "LIMIT %s) AS pending")


def record_events(job_id, frames, to, actor, reason, now):
    """The event of each frame's change of state to ``to``, in one round trip."""
    _EVENT.execute_many([(job_id, frame.number, now, actor, frame.state, to, reason)
                         for frame in frames])


def count_attempt(job_id, frame, actor, reason, config, now):
    """One attempt at ``frame`` went wrong: back to pending, or failed (and the job with it)
    after ``max_attempts``. Returns the frame's new state."""
    attempts = frame.attempts + 1
    to = "failed" if attempts >= config.max_attempts else "pending"
    _COUNT_ATTEMPT.execute(to, attempts, _tail(reason, MAX_REASON_CHARS), now, frame.id)
    record_events(job_id, [frame], to, actor, reason, now)
    if to == "failed":
        current = locked(Job.select().where(Job.id == job_id)).get()
        job_states.fail(current, "system",
                        f"frame {frame.number} failed {attempts} times (last: {reason}); "
                        f"see `raycrafter logs {job_id} --frame {frame.number}` (or GET "
                        f"/api/v1/jobs/{job_id}/frames/{frame.number}/log), fix the scene "
                        f"or its settings, and submit a new job")
    return to


def _tail(text, limit):
    return None if text is None else text[-limit:]


def expire_overdue(job_id, config, now):
    """Return frames whose lease ran out to pending (attempts + 1) or fail them. Answers
    whether it expired any, so that callers read the job and its frames again only then."""
    overdue = _OVERDUE.rows(job_id, now)
    for frame in overdue:
        count_attempt(job_id, frame, "system",
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
            expire_overdue(job_id, config, now)
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
        job = _JOB_FOR_AGENTS.first(job_id)
        if job is None:
            raise not_found()
        if job.state in ("pending", "staging"):
            return ClaimWait(UNREPORTED_WAIT_SECONDS)
        if job.state in ACTIVE and expire_overdue(job_id, config, now):
            job = _JOB_FOR_AGENTS.first(job_id)
        if job.state in ("cancelled", "failed"):
            return ClaimEnded("cancelled")
        if job.state in ("collecting", "done"):
            return ClaimEnded("finished")
        # One frame asked for needs no chunk sized (a chunk is never empty).
        size = 1 if max_frames == 1 else min(max_frames, chunk_size(job_id, config))
        chunk = _consecutive(_PENDING.rows(job_id, size), job.frame_step)
        if not chunk:
            return _nothing_to_claim(job_id, now)
        lease_id = str(uuid.uuid4())
        expires = _lease(now, config)
        first, last = chunk[0].number, chunk[-1].number
        _LEASE_CHUNK.execute(lease_id, holder, expires, now, job_id, first, last)
        _CHUNK_LEASED_EVENTS.execute(now, f"agent:{holder}", job_id, first, last)
        if job.state == "submitted":
            _mark_running(job_id, holder)
    return ClaimLeased(frame=first, attempt=chunk[0].attempts + 1,
                       frames=tuple(frame.number for frame in chunk),
                       lease=LeaseTerms(lease_id, timeutil.iso(expires), config.lease_seconds),
                       job=agent_job_view(job), protocol=AGENT_PROTOCOL)


def _mark_running(job_id, holder):
    """The job's first claim: submitted becomes running (unless another claim, or any other
    change, moved the job meanwhile)."""
    job = Job.get_by_id(job_id)
    if job.state == "submitted":
        job_states.transition_unless_moved(job, "running", f"agent:{holder}",
                                           "the first frame was claimed")


def chunk_size(job_id, config):
    """How many frames one claim leases: as many as render in about
    ``chunk_target_seconds`` at the mean render time of the job's last frames rendered,
    at most ``max_chunk_frames``, and no more than a fair share of the pending frames among
    the chunks in flight and this one (so the renderers working on a job finish together);
    1 while nothing is rendered yet, so the first frame comes soonest.

    Every query here reads a bounded number of index entries, whatever the job's size:
    a claim on a job of a million frames costs what it costs on a thousand
    (bench/claim_scaling.py)."""
    mean, in_flight = _RENDER_TIMES.first(job_id, RENDER_TIME_SAMPLE, job_id)
    if mean is None:
        return 1
    by_time = int(config.chunk_target_seconds / max(float(mean), 0.001))
    largest = min(config.max_chunk_frames, by_time)
    # Past this many pending frames the fair share is no smaller than ``largest``.
    pending = _PENDING_UP_TO.value(job_id, largest * (in_flight + 1))
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
    """What an agent needs to render a frame of ``job`` (a row of its columns)."""
    return AgentJob(id=job.id, width=job.width, height=job.height,
                    frames=FrameSpan(job.frame_first, job.frame_last, job.frame_step),
                    animation=job_views.animation_view(
                        job._replace(anim_cyclic=bool(job.anim_cyclic))),
                    renderer=job.renderer, options=json.loads(job.options),
                    scene_file=job.scene_file)


def held_frames(job_id, numbers, config, now):
    """The job's state and its frames numbered ``numbers`` ({number: row of
    FRAME_COLUMNS}, locked), once overdue leases have expired, so the caller can compare
    each frame's lease with the one it is reported under.

    A frame still leased tells by its own expiry, which every leased frame of its chunk
    shares (claims and heartbeats set them together). Any other frame (done, or handed
    back) may name a chunk whose other frames are overdue: then the job's overdue leases
    are expired. Other chunks' overdue leases are left to the next claim, which expires
    them before it looks for frames, and to the reconcile loop."""
    frames = _FRAMES.rows(now, job_id, numbers)
    state = _JOB_STATE.value(job_id)
    if (state in ACTIVE and not (len(frames) == len(numbers) and all(f.current for f in frames))
            and expire_overdue(job_id, config, now)):
        frames = _FRAMES.rows(now, job_id, numbers)
        state = _JOB_STATE.value(job_id)
    return state, {frame.number: frame for frame in frames}


def stale(frame):
    return conflict("stale_lease", f"lease is not the current lease of frame {frame.number}",
                    {"frame": frame.number, "frame_state": frame.state})


def job_not_active(state):
    return conflict("job_not_active", f"the job is {state}", {"job_state": state})


def heartbeat(job_id, number, lease_id, config):
    """Extend the lease of every frame it still holds. The agent may name any frame of
    the chunk, also one it already completed: the lease lives on in its other frames."""
    if not isinstance(lease_id, str) or not lease_id:
        raise bad_field("lease_id", "is required")
    now = timeutil.now()
    expires = _lease(now, config)
    if _EXTEND_HELD_LEASE.execute(expires, now, job_id, lease_id, now, job_id, number,
                                  lease_id, job_id).rowcount:
        return HeartbeatAnswer(timeutil.iso(expires))
    # Something is amiss: find out what, expiring what is overdue on the way (kept even
    # though the heartbeat is refused).
    with write_transaction():
        state, frames = held_frames(job_id, [number], config, now)
        refusal = _heartbeat_refusal(state, frames.get(number), lease_id)
        if refusal is None:
            if _EXTEND_LEASE.execute(expires, now, job_id, lease_id).rowcount:
                return HeartbeatAnswer(timeutil.iso(expires))
            refusal = stale(frames[number])
    raise refusal


def _heartbeat_refusal(state, frame, lease_id):
    """Why a heartbeat through ``frame`` is refused, or None."""
    if frame is None:
        return not_found("frame")
    if state not in ACTIVE:
        return job_not_active(state)
    if frame.lease_id != lease_id or frame.state not in ("leased", "done"):
        return stale(frame)
    return None

