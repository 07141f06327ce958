"""A user cancelling one of their jobs (an admin any job)."""
from raycrafter_contract.states import FINAL_JOB_STATES

from ..database.db import write_transaction
from ..problems import conflict
from .job_lookup import visible_job
from .job_states import transition


def cancel(principal, job_id):
    with write_transaction():
        job = visible_job(principal, job_id)
        if job.state in FINAL_JOB_STATES:
            raise conflict("illegal_transition", f"the job is already {job.state}",
                           {"from": job.state, "to": "cancelled"})
        transition(job, "cancelled", principal.actor, "cancelled by its user")
    return job
