"""Waiting for a job to reach a final state by polling the API, and what that state
means as an exit status."""
import sys
import time

from raycrafter_contract.states import FINAL_JOB_STATES
from raycrafter_contract.wire.retrying import delay_before_retry

from . import exit_codes
from .errors import CliError
from .http import ApiError

# Keep polling through an API or network outage (an appliance restart) this long.
OUTAGE_SECONDS = 300


def wait(api, job_id, progress, poll_seconds):
    """Poll job ``job_id`` until it is final, reporting to ``progress``; return the job."""
    started = time.monotonic()
    # A wrong address, token or job id fails here, at once; an API that answers "not now"
    # (restarting behind nginx: 503 with Retry-After) is waited for, as later polls do.
    job = _poll_through_outages(api, job_id, progress, poll_seconds, answered_only=True)
    done_at_start = job.progress["done"]
    try:
        while True:
            elapsed = time.monotonic() - started
            done = job.progress["done"]
            if job.state in FINAL_JOB_STATES:
                progress.update(job, elapsed, None)
                return job
            progress.update(job, elapsed, _remaining(elapsed, done - done_at_start,
                                                     job.frames.count - done))
            time.sleep(poll_seconds)
            job = _poll_through_outages(api, job_id, progress, poll_seconds)
    except KeyboardInterrupt:
        raise CliError(f"stopped waiting; job {job_id} goes on "
                       f"(`raycrafter wait {job_id}` to wait again)",
                       exit_codes.INTERRUPTED) from None
    finally:
        progress.finish()


def _poll_through_outages(api, job_id, progress, poll_seconds, answered_only=False):
    """The job, asking again while the API or the network is down (for a while), never
    sooner than the API asked (the contract's retry rule). ``answered_only``: only while
    something at the address answered "not now"; no answer at all is an error at once."""
    outage_since = None
    while True:
        try:
            return api.job(job_id)
        except CliError as error:
            if not error.transient or (answered_only and not isinstance(error, ApiError)):
                raise
            if outage_since is None:
                outage_since = time.monotonic()
                progress.note(f"{error}; retrying for up to {OUTAGE_SECONDS // 60} minutes")
            elif time.monotonic() - outage_since > OUTAGE_SECONDS:
                raise
            time.sleep(delay_before_retry(poll_seconds, error.retry_after))


def _remaining(elapsed, done_meanwhile, left):
    """Seconds left at the rate frames were done while we waited, or None if unknown."""
    if done_meanwhile <= 0:
        return None
    return elapsed / done_meanwhile * left


def outcome(job):
    """The exit status for a final job; why it did not finish goes to stderr."""
    if job.state == "failed":
        print(f"raycrafter: job {job.id} failed: {job.error}", file=sys.stderr)
        return exit_codes.JOB_FAILED
    if job.state == "cancelled":
        print(f"raycrafter: job {job.id} was cancelled", file=sys.stderr)
        return exit_codes.JOB_CANCELLED
    return exit_codes.OK
