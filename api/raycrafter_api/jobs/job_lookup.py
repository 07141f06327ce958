"""Finding a job for a caller: a user sees only their own (an admin every one), what a
user may not see is not found, exactly as a missing job; the worker reaches any job, and
a site agent those of its cluster only (another cluster's is forbidden, as another job is
to an agent)."""
from .. import auth
from ..database.models import Job
from ..problems import Forbidden, not_found


def visible_job(principal, job_id):
    """The job if this user may see it, its owner read with it (a job's view names its
    owner); another user's job is not found, as is a missing one."""
    owner = Job.owner.rel_model
    job = Job.select(Job, owner).join(owner).where(Job.id == job_id).first()
    if job is None or (principal.kind != "admin" and job.owner_id != principal.user_id):
        raise not_found()
    return job


def job_for_worker(job_id, caller):
    job = Job.get_or_none(Job.id == job_id)
    if job is None:
        raise not_found()
    if not auth.may_reach_cluster(caller, job.cluster):
        raise Forbidden("forbidden", f"this site agent's token is for cluster "
                                     f"{caller.cluster}; job {job_id} is not",
                        {"cluster": caller.cluster})
    return job
