"""Jobs: creating one, its state machine, and how it is shown (job_requests.py validates
the request)."""
import json

import peewee
from raycrafter_contract.states import FINAL_JOB_STATES, FRAME_STATES, JOB_STATES, can_move

from . import outbox, pagination, timeutil
from .db import write_transaction
from .problems import bad_field, conflict, not_found
from .models import Event, Frame, Job

# States the worker may ask for; `collecting` follows from frames, `cancelled` from users.
WORKER_TARGETS = ("staging", "submitted", "running", "done", "failed")


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
        outbox.write_command(job, "submit")
        store_input(job)
    return job


def transition(job, to, actor, reason=None, **changes):
    """Move ``job`` to ``to`` inside the caller's transaction, or raise Conflict.

    The update is conditional on the state the caller read, so two concurrent changes
    cannot both succeed. Writes the event and the command the new state calls for.
    """
    if not transition_unless_moved(job, to, actor, reason, **changes):
        current = Job.get_by_id(job.id).state
        raise conflict("illegal_transition",
                       f"the job changed state concurrently (now {current})",
                       {"from": current, "to": to})
    return job


def transition_unless_moved(job, to, actor, reason=None, **changes):
    """Like ``transition``, but answer False (changing nothing) when another request moved
    the job out of the state the caller read: e.g. many agents claiming the first frames."""
    check_transition(job, to)
    now = timeutil.now()
    if to == "failed":
        changes["error"] = reason
    updated = (Job.update(state=to, updated_at=now, state_changed_at=now, **changes)
               .where(Job.id == job.id, Job.state == job.state).execute())
    if not updated:
        return False
    Event.create(job=job.id, at=now, actor=actor, from_state=job.state, to_state=to,
                 reason=reason)
    from_state = job.state
    job.state, job.updated_at, job.state_changed_at = to, now, now
    for key, value in changes.items():
        setattr(job, key, value)
    command = _command_for(from_state, to)
    if command:
        outbox.write_command(job, command)
    return True


def check_transition(job, to):
    if not can_move(job.state, to):
        raise conflict("illegal_transition", f"a job in state {job.state} cannot go to {to}",
                       {"from": job.state, "to": to})


def _command_for(from_state, to):
    if to in ("failed", "cancelled"):
        return "cancel"  # remove the batch job, if there is one
    if to == "collecting":
        return "collect"
    if to == "staging" and from_state in ("submitted", "running"):
        return "submit"  # the batch job ended with frames left: submit again
    return None


def fail(job, actor, reason):
    """Fail an active job (no-op if it is already final) inside the caller's transaction."""
    if job.state not in FINAL_JOB_STATES:
        transition(job, "failed", actor, reason)


def visible_job(principal, job_id):
    """The job if this user may see it; another user's job is not found,
    as is a missing one."""
    job = Job.get_or_none(Job.id == job_id)
    if job is None or (principal.kind != "admin" and job.owner_id != principal.user_id):
        raise not_found()
    return job


def cancel(principal, job_id):
    with write_transaction():
        job = visible_job(principal, job_id)
        if job.state in FINAL_JOB_STATES:
            raise conflict("illegal_transition", f"the job is already {job.state}",
                           {"from": job.state, "to": "cancelled"})
        transition(job, "cancelled", principal.actor, "cancelled by its user")
    return job


def worker_transition(job_id, to, batch_job_id, reason, config, attempt=None):
    """A state change reported by the worker. Asking for the state the job is already in
    is answered with the job unchanged, so a worker may safely retry. A report that names
    the submission ``attempt`` it is about is refused once the job has moved on to a newer
    attempt: a late poll of batch job 1 must not send attempt 2 back to staging."""
    if to not in WORKER_TARGETS:
        raise bad_field("to", f"the worker may ask for {', '.join(WORKER_TARGETS)}")
    if to == "submitted" and not batch_job_id:
        raise bad_field("batch_job_id", "is required to mark a job submitted")
    if to == "failed" and not reason:
        raise bad_field("reason", "is required to fail a job")
    with write_transaction():
        job = Job.get_or_none(Job.id == job_id)
        if job is None:
            raise not_found()
        if attempt is not None and attempt != job.submit_attempt:
            raise conflict("stale_attempt", f"the report is about submission attempt "
                                            f"{attempt}, the job is on attempt "
                                            f"{job.submit_attempt}",
                           {"attempt": attempt, "current_attempt": job.submit_attempt})
        if job.state == to and batch_job_id in (None, job.batch_job_id):
            return job
        check_transition(job, to)
        changes = {"batch_job_id": batch_job_id} if batch_job_id else {}
        if to == "submitted":
            changes["submitted_attempt"] = job.submit_attempt
        if to == "submitted" and job.submit_attempt < 1:
            raise conflict("no_submission", "record a submission before marking it submitted")
        if to == "done":
            _require_all_images(job)
        if to == "staging" and job.state in ("submitted", "running"):
            if job.submit_attempt >= config.max_submissions:
                transition(job, "failed", "worker",
                           f"the batch job ended {job.submit_attempt} times before every "
                           f"frame was rendered (last: {reason or 'no reason given'}); "
                           f"check the frame logs, then resubmit with fewer frames per job")
                return job
            _release_leases(job, "the batch job ended")
        transition(job, to, "worker", reason, **changes)
    return job


def _require_all_images(job):
    missing = [f.number for f in Frame.select(Frame.number)
               .where(Frame.job == job.id, Frame.image_checksum.is_null())
               .order_by(Frame.number).limit(20)]
    if missing:
        raise conflict("images_missing", "upload every frame image before marking the job done",
                       {"frames": missing})


def _release_leases(job, reason):
    """Hand back every leased frame without counting an attempt (its batch job is gone)."""
    now = timeutil.now()
    leased = [f.number for f in Frame.select(Frame.number)
              .where(Frame.job == job.id, Frame.state == "leased")]
    (Frame.update(state="pending", lease_id=None, lease_holder=None, lease_expires_at=None,
                  updated_at=now)
     .where(Frame.job == job.id, Frame.state == "leased").execute())
    for number in leased:
        Event.create(job=job.id, frame=number, at=now, actor="worker", from_state="leased",
                     to_state="pending", reason=reason)


def record_submission(job_id, issue_agent_token, config):
    """Record a submission attempt before the scheduler is called; returns its details.

    An attempt stays open until the worker reports it submitted. While it is open, every
    call answers with that same attempt (and a further agent token for it) instead of a new
    one: a worker that failed before anything reached the scheduler, restarted, or a second
    worker holding a duplicate command resumes it, no attempt is spent on a failure that
    submitted nothing, and the login node's per-attempt marker (worker/cluster.py) lets
    only one of them hand it to the scheduler."""
    with write_transaction():
        job = Job.get_or_none(Job.id == job_id)
        if job is None:
            raise not_found()
        if job.state != "staging":
            raise conflict("illegal_transition",
                           f"submissions are recorded in state staging, not {job.state}",
                           {"from": job.state, "to": "submitted"})
        resumed = job.submit_attempt > job.submitted_attempt
        if resumed:
            attempt = job.submit_attempt
        else:
            if job.submit_attempt >= config.max_submissions:
                raise conflict("max_submissions", f"the job was already submitted "
                                                  f"{job.submit_attempt} times")
            attempt = job.submit_attempt + 1
            Job.update(submit_attempt=attempt, updated_at=timeutil.now()).where(
                Job.id == job.id).execute()
        token = issue_agent_token(job)
    return {"attempt": attempt, "batch_name": batch_name(job.id, attempt), "agent_token": token,
            "resumed": resumed}


def batch_name(job_id, attempt):
    return f"rc-{job_id}-a{attempt}" if attempt else None


def frame_counts(job_ids):
    """{job_id: {state: count}} for the given jobs, in one query."""
    counts = {job_id: dict.fromkeys(FRAME_STATES, 0) for job_id in job_ids}
    if not job_ids:
        return counts
    rows = (Frame.select(Frame.job, Frame.state, peewee.fn.COUNT(Frame.id).alias("n"))
            .where(Frame.job.in_(list(job_ids))).group_by(Frame.job, Frame.state).tuples())
    for job_id, state, n in rows:
        counts[job_id][state] = n
    return counts


def view(job, counts, owner_name):
    """The job as its user sees it."""
    return {
        "id": job.id,
        "name": job.name,
        "owner": owner_name,
        "state": job.state,
        "error": job.error,
        "frames": {"first": job.frame_first, "last": job.frame_last, "step": job.frame_step,
                   "count": sum(counts.values())},
        "animation": animation_view(job),
        "progress": counts,
        "width": job.width,
        "height": job.height,
        "renderer": job.renderer,
        "options": json.loads(job.options),
        "cluster": job.cluster,
        "scene": {"kind": job.scene_kind, "size": job.scene_size,
                  "checksum": job.scene_checksum},
        "created_at": timeutil.iso(job.created_at),
        "updated_at": timeutil.iso(job.updated_at),
    }


def animation_view(job):
    """The animation the job's frames belong to, as POV-Ray defines one."""
    return {"initial_frame": job.anim_initial_frame, "final_frame": job.anim_final_frame,
            "initial_clock": job.anim_initial_clock, "final_clock": job.anim_final_clock,
            "cyclic": job.anim_cyclic}


def full_view(job, counts, owner_name):
    """The job as the worker sees it: the user's view plus the batch bookkeeping."""
    shown = view(job, counts, owner_name)
    shown.update({"submit_attempt": job.submit_attempt,
                  "batch_name": batch_name(job.id, job.submit_attempt),
                  "batch_job_id": job.batch_job_id,
                  "scene_file": job.scene_file})
    return shown


def render(jobs, full=False):
    """Views of several jobs with their frame counts and owner names."""
    counts = frame_counts([j.id for j in jobs])
    shape = full_view if full else view
    return [shape(j, counts[j.id], j.owner.name) for j in jobs]


def render_one(job, full=False):
    job = Job.select(Job, Job.owner.rel_model).join(Job.owner.rel_model).where(
        Job.id == job.id).get()
    return render([job], full)[0]


def list_for(principal, state, limit, offset):
    """A page of the jobs this principal may see, newest first."""
    query = Job.select(Job, Job.owner.rel_model).join(Job.owner.rel_model)
    if principal.kind != "admin":
        query = query.where(Job.owner == principal.user_id)
    if state:
        query = query.where(Job.state == state)
    return pagination.page(query, Job.id.desc(), limit, offset, "jobs", render)


def list_for_worker(cluster, states):
    query = Job.select(Job, Job.owner.rel_model).join(Job.owner.rel_model)
    if cluster:
        query = query.where(Job.cluster == cluster)
    if states:
        query = query.where(Job.state.in_(states))
    return {"jobs": render(list(query.order_by(Job.id)), full=True)}


def check_state_name(field, state):
    if state not in JOB_STATES:
        raise bad_field(field, f"unknown state (one of {', '.join(JOB_STATES)})")
    return state


def job_for_worker(job_id):
    job = Job.get_or_none(Job.id == job_id)
    if job is None:
        raise not_found()
    return job

