"""What waits and runs, as an administrator watches it: the unfinished jobs of every user
by cluster and state, and the commands the relay has not yet handed to the broker."""
import peewee
from raycrafter_contract.naming import MAX_PAGE
from raycrafter_contract.states import FINAL_JOB_STATES

from .. import timeutil
from ..database.models import Command, Job
from .job_views import views


def overview():
    unfinished = Job.state.not_in(FINAL_JOB_STATES)
    clusters = {}
    for cluster, state, count in (Job.select(Job.cluster, Job.state, peewee.fn.COUNT(Job.id))
                                  .where(unfinished).group_by(Job.cluster, Job.state).tuples()):
        clusters.setdefault(cluster, {})[state] = count
    # The oldest first: they are the ones an operator is asked about.
    jobs = list(Job.select(Job, Job.owner.rel_model).join(Job.owner.rel_model)
                .where(unfinished).order_by(Job.id).limit(MAX_PAGE))
    unsent = Command.select().where(Command.sent_at.is_null())
    oldest = unsent.select(peewee.fn.MIN(Command.created_at)).scalar()
    return {"clusters": clusters, "jobs": views(jobs, full=True),
            "unsent_commands": unsent.count(),
            "oldest_unsent_command_at": timeutil.iso(oldest)}
