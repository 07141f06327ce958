"""Open jobs: a job whose user left its cluster open (``naming.OPEN_CLUSTER``) waits,
pending, until the site agent of a cluster in pull mode takes it; from then on it is that
cluster's job, as if its user had named the cluster, and its ``submit`` goes to that site
agent. Site agents take open jobs a few at a time, as their cluster has room, so that the
clusters share them (as the Refl1D dispatcher's clusters do)."""
from raycrafter_contract.naming import OPEN_CLUSTER

from .. import timeutil
from ..database.db import locked, write_transaction
from ..database.models import Command, Event, Job

# The most open jobs one call takes: a site agent takes a few at a time.
MAX_TAKEN = 50


def take(cluster, max_jobs, actor):
    """Make at most ``max_jobs`` of the oldest open pending jobs ``cluster``'s; returns
    their ids. A job another site agent is taking meanwhile is skipped (SKIP LOCKED on
    PostgreSQL; SQLite's write lock lets one take at a time), so none is taken twice."""
    now = timeutil.now()
    with write_transaction():
        open_jobs = locked(Job.select(Job.id).where(Job.cluster == OPEN_CLUSTER,
                                                    Job.state == "pending")
                           .order_by(Job.id).limit(max_jobs), skip_locked=True)
        taken = []
        for job in open_jobs:
            if not (Job.update(cluster=cluster, updated_at=now)
                    .where(Job.id == job.id, Job.cluster == OPEN_CLUSTER).execute()):
                continue
            Command.update(cluster=cluster).where(Command.job == job.id,
                                                  Command.sent_at.is_null()).execute()
            Event.create(job=job.id, at=now, actor=actor, from_state="pending",
                         to_state="pending", reason=f"taken by cluster {cluster}")
            taken.append(job.id)
    return taken
