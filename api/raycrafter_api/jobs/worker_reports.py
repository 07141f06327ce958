"""What the worker reports about a job: the state changes its own steps made happen
(``worker_transition``), and what a poll saw of a batch job that ended
(``batch_ended``), from which the API decides what follows."""
from raycrafter_contract.states import BATCH_STATES, WORKER_TARGETS

from ..auth import revoke_agent_tokens
from ..database.db import write_transaction
from ..database.models import Frame, Job
from ..problems import bad_field, conflict, not_found
from .job_states import check_transition, release_leases, transition


def worker_transition(job_id, to, batch_job_id, reason, attempt=None, actor="worker"):
    """A state change the worker (or a site agent, ``actor``) made happen. Asking for the state the job is already in
    is answered with the job unchanged, so a worker may safely retry; one naming an older
    submission ``attempt`` than the job's is refused (a late poll of batch job 1 must not
    touch attempt 2)."""
    if to not in WORKER_TARGETS:
        raise bad_field("to", f"the worker may ask for {', '.join(WORKER_TARGETS)}")
    if to == "submitted" and not batch_job_id:
        raise bad_field("batch_job_id", "is required to mark a job submitted")
    if to == "failed" and not reason:
        raise bad_field("reason", "is required to fail a job")
    with write_transaction():
        job = _reported_job(job_id, attempt)
        if job.state == to and batch_job_id in (None, job.batch_job_id):
            return job
        if to == "staging" and job.state in BATCH_STATES:
            raise conflict("illegal_transition", "report the end of the batch job "
                           "(batch-ended); the API decides whether it is submitted again",
                           {"from": job.state, "to": to})
        check_transition(job, to)
        changes = {"batch_job_id": batch_job_id} if batch_job_id else {}
        if to == "submitted":
            changes["submitted_attempt"] = job.submit_attempt
        if to == "submitted" and job.submit_attempt < 1:
            raise conflict("no_submission", "record a submission before marking it submitted")
        if to == "done":
            _require_all_images(job)
        transition(job, to, actor, reason, **changes)
    return job


def batch_ended(job_id, attempt, batch_job_id, seen, exit_status, config, actor="worker"):
    """A poll saw the batch job of submission ``attempt`` end (``seen``: what the scheduler
    showed, ``exit_status`` the batch script's, either may be None). While the job waits
    on that batch job, frames are left: it is submitted again, unless it has had
    ``max_submissions`` already, and then it fails. Otherwise the end was expected (every
    frame rendered) or already acted on, and nothing changes, so a report may be
    repeated. Either way the agent tokens of that attempt die with its batch job."""
    with write_transaction():
        job = _reported_job(job_id, attempt)
        revoke_agent_tokens(job.id, up_to_attempt=attempt)
        if job.state not in BATCH_STATES:
            return job
        ended = (f"batch job {batch_job_id or job.batch_job_id} of attempt {attempt} ended"
                 + (f": {seen}" if seen else "")
                 + (f", exit status {exit_status}" if exit_status is not None else ""))
        if job.submit_attempt >= config.max_submissions:
            transition(job, "failed", actor,
                       f"the batch job ended {job.submit_attempt} times before every "
                       f"frame was rendered (last: {ended}); check the frame logs, then "
                       f"resubmit with fewer frames per job")
            return job
        left = Frame.select().where(Frame.job == job.id, Frame.state != "done").count()
        release_leases(job, actor, "the batch job ended")
        transition(job, "staging", actor,
                   f"{ended}; {left} frame(s) left, submitting it again")
    return job


def _reported_job(job_id, attempt):
    """The job a report is about, inside the caller's transaction. A report that names the
    submission ``attempt`` it is about is refused once the job is on a newer attempt."""
    job = Job.get_or_none(Job.id == job_id)
    if job is None:
        raise not_found()
    if attempt is not None and attempt != job.submit_attempt:
        raise conflict("stale_attempt", f"the report is about submission attempt "
                                        f"{attempt}, the job is on attempt "
                                        f"{job.submit_attempt}",
                       {"attempt": attempt, "current_attempt": job.submit_attempt})
    return job


def _require_all_images(job):
    missing = [f.number for f in Frame.select(Frame.number)
               .where(Frame.job == job.id, Frame.image_checksum.is_null())
               .order_by(Frame.number).limit(20)]
    if missing:
        raise conflict("images_missing", "upload every frame image before marking the job done",
                       {"frames": missing})
