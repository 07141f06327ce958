"""What the worker reports about a job: the state changes it made happen."""
from . import timeutil
from .db import write_transaction
from .job_states import check_transition, transition
from .problems import bad_field, conflict, not_found
from .models import Event, Frame, Job

# States the worker may ask for; `collecting` follows from frames, `cancelled` from users.
WORKER_TARGETS = ("staging", "submitted", "running", "done", "failed")


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
