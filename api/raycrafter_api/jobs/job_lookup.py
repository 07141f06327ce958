"""Finding a job for a caller: a user sees only their own (an admin every one), the
worker any; what a caller may not see is not found, exactly as a missing job."""
from ..database.models import Job
from ..problems import not_found


def visible_job(principal, job_id):
    """The job if this user may see it; another user's job is not found,
    as is a missing one."""
    job = Job.get_or_none(Job.id == job_id)
    if job is None or (principal.kind != "admin" and job.owner_id != principal.user_id):
        raise not_found()
    return job


def job_for_worker(job_id):
    job = Job.get_or_none(Job.id == job_id)
    if job is None:
        raise not_found()
    return job
