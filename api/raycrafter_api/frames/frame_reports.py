"""What agents report of the frames of their leases: rendered (complete), failed, handed
back (release); each frame in a call of its own, or several frames of one lease in one
report (protocol 2, ``LeaseReports``).

A frame is taken the same way either way: a single call is a report of one frame, whose
refusal (stale lease, job no longer active, no such frame) is the call's answer, where a
report answers each frame's outcome and takes the others all the same. A report's frames
are locked together, its completions written in one round trip, and what is left of the
job counted once.
"""
from raycrafter_contract.naming import MAX_CLAIM_FRAMES, MAX_FRAME_NUMBER
from raycrafter_contract.states import FRAME_STATES
from raycrafter_contract.wire.agent_calls import (FrameDone, FrameFailed, FrameOutcome,
                                                  FrameStateAnswer, LeaseReportsAnswer)
from raycrafter_contract.wire.errors import ErrorBody

from .. import timeutil
from ..database.db import locked, write_transaction
from ..database.models import Job
from ..database.statements import Statement
from ..jobs import job_states
from ..metrics import series
from ..problems import Problem, bad_field, not_found
from . import leases

# A log tail longer than this keeps only its end (a failure reason: MAX_REASON_CHARS).
LOG_TAIL_CHARS = 16_384
# The frame states that keep a job from being rendered.
UNFINISHED = tuple(state for state in FRAME_STATES if state != "done")

_FINISH = Statement(
    "UPDATE frame SET state = 'done', render_seconds = %s, checksum = %s, size = %s, "
    "log_tail = %s, lease_expires_at = NULL, updated_at = %s WHERE id = %s")
_HAND_BACK = Statement(
    "UPDATE frame SET state = 'pending', lease_id = NULL, lease_holder = NULL, "
    "lease_expires_at = NULL, updated_at = %s WHERE id = %s")
_KEEP_LOG_TAIL = Statement("UPDATE frame SET log_tail = %s WHERE id = %s")
_ANOTHER_LEASED = Statement(
    "SELECT id FROM frame WHERE job_id = %s AND state = 'leased' "
    "ORDER BY lease_expires_at DESC LIMIT 1{skip_locked}")
# For each state other than done, its highest frame number, read off the (job, state,
# number) index at the end claims have not reached, so it costs the same however many
# frames are done or were claimed. (A plain ``state != 'done'`` lets PostgreSQL read done
# frames until it meets another: 0.07 s with half a million done, on every frame completed.)
_FRAMES_LEFT = Statement("SELECT COALESCE({})".format(", ".join(
    f"(SELECT number FROM frame WHERE job_id = %s AND state = '{state}' "
    f"ORDER BY number DESC LIMIT 1)" for state in UNFINISHED)))


def complete(job_id, number, body, config):
    entry = _done(body, number, "")
    return _one(_take(job_id, _lease_id(body), [entry], [], [], config))


def fail(job_id, number, body, config):
    entry = _failed(body, number, "")
    return _one(_take(job_id, _lease_id(body), [], [entry], [], config))


def release(job_id, number, body, config):
    return _one(_take(job_id, _lease_id(body), [], [], [number], config))


def report(job_id, body, config):
    """A report of several frames of one lease (``LeaseReports``): one outcome each."""
    done = [_done(entry, _frame(entry, f"done[{i}]."), f"done[{i}].")
            for i, entry in enumerate(_array(body, "done"))]
    failed = [_failed(entry, _frame(entry, f"failed[{i}]."), f"failed[{i}].")
              for i, entry in enumerate(_array(body, "failed"))]
    released = [_number(value, f"released[{i}]")
                for i, value in enumerate(_array(body, "released", objects=False))]
    numbers = [entry.frame for entry in done + failed] + released
    if not 1 <= len(numbers) <= MAX_CLAIM_FRAMES:
        raise bad_field("body", f"a report names 1 to {MAX_CLAIM_FRAMES} frames of its lease")
    if len(set(numbers)) != len(numbers):
        twice = next(n for n in numbers if numbers.count(n) > 1)
        raise bad_field("body", f"frame {twice} is reported more than once")
    outcomes = _take(job_id, _lease_id(body), done, failed, released, config)
    return LeaseReportsAnswer(tuple(
        FrameOutcome(number, refused=ErrorBody(result.code, result.message, result.details))
        if isinstance(result, Problem) else FrameOutcome(number, frame_state=result)
        for number, result in outcomes))


def _take(job_id, lease_id, done, failed, released, config):
    """Take the reports of frames of the lease ``lease_id``: completions, then failures,
    then frames handed back. Returns (number, new state or the refusing Problem) for
    each, in that order."""
    now = timeutil.now()
    numbers = [entry.frame for entry in done + failed] + list(released)
    outcomes = []
    attempts_failed = 0
    with write_transaction():
        job_state, frames = leases.held_frames(job_id, numbers, config, now)
        finished = []
        for entry in done:
            frame = frames.get(entry.frame)
            if frame is not None and frame.state == "done" and frame.lease_id == lease_id:
                result = "done"  # a retried completion that already succeeded
            else:
                result = _refusal(frame, lease_id, job_state, job_must_be_active=True)
                if result is None:
                    finished.append((entry, frame))
                    result = "done"
            outcomes.append((entry.frame, result))
        _finish(job_id, finished, now)
        for entry in failed:
            frame = frames.get(entry.frame)
            result = _refusal(frame, lease_id, job_state)
            if result is None:
                _KEEP_LOG_TAIL.execute(_tail(entry.log_tail), frame.id)
                attempts_failed += 1
                result = leases.count_attempt(job_id, frame, f"agent:{frame.lease_holder}",
                                              entry.reason, config, now)
            outcomes.append((entry.frame, result))
        handed_back = []
        for number in released:
            frame = frames.get(number)
            result = _refusal(frame, lease_id, job_state)
            if result is None:
                handed_back.append(frame)
                result = "pending"
            outcomes.append((number, result))
        _HAND_BACK.execute_many([(now, frame.id) for frame in handed_back])
        _record_events(job_id, handed_back, "pending", "released by the agent", now)
        if finished:
            _collect_when_rendered(job_id)
    _count(finished, attempts_failed)
    return outcomes


def _count(finished, attempts_failed):
    """The metrics of what a report changed, once it is committed: a retried completion
    that already succeeded is not counted again."""
    series.FRAMES_COMPLETED.inc(len(finished))
    for entry, _ in finished:
        series.FRAME_RENDER_SECONDS.observe(entry.render_seconds)
    series.FRAMES_FAILED.inc(attempts_failed)


def _refusal(frame, lease_id, job_state, job_must_be_active=False):
    """Why a report of ``frame`` under ``lease_id`` is refused, or None."""
    if frame is None:
        return not_found("frame")
    if job_must_be_active and job_state not in leases.ACTIVE:
        return leases.job_not_active(job_state)
    if frame.state != "leased" or frame.lease_id != lease_id:
        return leases.stale(frame)
    return None


def _finish(job_id, finished, now):
    """Mark the frames done, in one round trip, with their events."""
    _FINISH.execute_many([(entry.render_seconds, entry.checksum, entry.size,
                           _tail(entry.log_tail), now, frame.id)
                          for entry, frame in finished])
    _record_events(job_id, [frame for _, frame in finished], "done", None, now)


def _record_events(job_id, frames, to, reason, now):
    """Each frame's event, its actor the node its lease named."""
    for holder in {frame.lease_holder for frame in frames}:
        leases.record_events(job_id, [f for f in frames if f.lease_holder == holder], to,
                             f"agent:{holder}", reason, now)


def _collect_when_rendered(job_id):
    """After completions: move the job to collecting if no frame is left to render."""
    if _another_leased_frame_held(job_id):
        return  # frames are left when this commits
    # Lock the job last, then count: concurrent completions of the last frames serialise
    # here, so exactly one of them sees nothing left.
    current = locked(Job.select().where(Job.id == job_id)).get()
    if _FRAMES_LEFT.value(*[job_id] * len(UNFINISHED)) is None \
            and current.state in leases.ACTIVE:
        job_states.transition(current, "collecting", "system", "every frame is rendered")


def _another_leased_frame_held(job_id):
    """Lock another leased frame of the job until this transaction ends, if one is free.

    No one can complete a frame locked here, so it is still not done when these
    completions commit: they cannot be the ones that leave nothing to render, and need not
    lock the job (every completion of the job would otherwise queue for that lock in
    turn). The completion that does leave nothing finds no such frame and counts under the
    job's lock. SKIP LOCKED: this never waits; claims never meet the frame (they lock
    pending ones), its holder's own calls on it wait until this commits. The most recently
    leased first, as frames leased earlier are the likelier to be reported now. On SQLite
    the transaction holds the database's write lock, which does the same."""
    return _ANOTHER_LEASED.value(job_id) is not None


def _one(outcomes):
    """A single call's answer: the frame's new state, or its refusal raised."""
    (_, result), = outcomes
    if isinstance(result, Problem):
        raise result
    return FrameStateAnswer(result)


def _tail(text):
    return None if text is None else text[-LOG_TAIL_CHARS:]


def _lease_id(body):
    lease_id = body.get("lease_id")
    if not isinstance(lease_id, str) or not lease_id:
        raise bad_field("lease_id", "is required")
    return lease_id


def _done(fields, number, where):
    """The completion of frame ``number`` its fields describe (``where``: their place in
    the body, for the error naming a bad one)."""
    checksum = fields.get("checksum")
    if not isinstance(checksum, str) or not _is_sha256(checksum):
        raise bad_field(where + "checksum", "must be a lowercase SHA-256 hex digest")
    render_seconds = fields.get("render_seconds")
    if isinstance(render_seconds, bool) or not isinstance(render_seconds, (int, float)) \
            or not render_seconds >= 0:
        raise bad_field(where + "render_seconds", "must be a non-negative number")
    size = fields.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise bad_field(where + "size", "must be a positive integer (bytes)")
    return FrameDone(number, float(render_seconds), checksum, size,
                     _text(fields, "log_tail", where))


def _failed(fields, number, where):
    reason = _text(fields, "reason", where)
    if not reason:
        raise bad_field(where + "reason", "is required")
    return FrameFailed(number, reason, _text(fields, "log_tail", where))


def _array(body, field, objects=True):
    value = body.get(field, [])
    if not isinstance(value, list):
        raise bad_field(field, "must be an array")
    for index, item in enumerate(value):
        if objects and not isinstance(item, dict):
            raise bad_field(f"{field}[{index}]", "must be an object")
    return value


def _frame(entry, where):
    return _number(entry.get("frame"), where + "frame")


def _number(value, field):
    # Bounded as frame numbers are, before the database sees one too large for its column.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FRAME_NUMBER:
        raise bad_field(field, f"must be a frame number (0 to {MAX_FRAME_NUMBER})")
    return value


def _is_sha256(text):
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _text(fields, field, where=""):
    value = fields.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_field(where + field, "must be a string")
    return value
