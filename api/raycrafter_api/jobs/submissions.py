"""Submission attempts: the worker records one before it calls the scheduler, and the
batch job is named after it."""
import logging
import time

from raycrafter_contract import job_logging
from raycrafter_contract import log_credentials
from raycrafter_contract.naming import batch_name
from raycrafter_contract.wire.worker_calls import Submission

from .. import auth, timeutil
from ..database.db import write_transaction
from ..database.models import Job
from ..metrics import series
from ..problems import conflict, not_found

log = logging.getLogger(__name__)


def record_submission(job_id, config):
    """Record a submission attempt before the scheduler is called; returns its details.

    An attempt stays open until the worker reports it submitted. While it is open, every
    call answers with that same attempt (and a further agent token for it) instead of a new
    one: a worker that failed before anything reached the scheduler, restarted, or a second
    worker holding a duplicate command resumes it, no attempt is spent on a failure that
    submitted nothing, and the login node's per-attempt marker (worker/cluster.py) lets
    only one of them hand it to the scheduler. A new attempt revokes the agent tokens of
    the ones before it: their batch jobs are over."""
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
            auth.revoke_agent_tokens(job.id, up_to_attempt=attempt - 1)
        token = auth.issue_token("agent", job=job, attempt=attempt)
    with job_logging.about_job(job.id):
        log.info("job %s: submission attempt %s %s", job.id, attempt,
                 "resumed" if resumed else "recorded")
    if not resumed:
        series.SUBMISSIONS.inc()
        if attempt > 1:
            series.RESUBMISSIONS.inc()
    return Submission(attempt, batch_name(job.id, attempt), token, resumed,
                      _log_credential(job.id, attempt, config))


def _log_credential(job_id, attempt, config):
    """What the attempt's node agents sign their log records with, if the log server's
    key is configured."""
    if not config.log_credential_key:
        return None
    return log_credentials.issue(config.log_credential_key.encode("utf-8"), job_id, attempt,
                                 int(time.time()) + config.log_credential_seconds)
