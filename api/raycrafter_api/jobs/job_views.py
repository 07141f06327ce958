"""How a job is shown: to its user, and to the worker with the batch bookkeeping."""
import json

import peewee
from raycrafter_contract.animation import Animation
from raycrafter_contract.naming import batch_name
from raycrafter_contract.states import FRAME_STATES
from raycrafter_contract.wire.jobs import (CountedFrameSpan, JobPage, JobView, SceneView,
                                           WorkerJobList, WorkerJobView)

from .. import timeutil
from ..database import pagination
from ..database.models import Frame, Job


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


def user_view(job, counts, owner_name):
    """The job as its user sees it."""
    return JobView(**_user_fields(job, counts, owner_name))


def worker_view(job, counts, owner_name):
    """The job as the worker sees it: the user's view plus the batch bookkeeping."""
    return WorkerJobView(
        **_user_fields(job, counts, owner_name), submit_attempt=job.submit_attempt,
        batch_name=batch_name(job.id, job.submit_attempt) if job.submit_attempt else None,
        batch_job_id=job.batch_job_id, scene_file=job.scene_file,
        state_changed_at=timeutil.iso(job.state_changed_at))


def _user_fields(job, counts, owner_name):
    return dict(
        id=job.id, name=job.name, owner=owner_name, state=job.state, error=job.error,
        frames=CountedFrameSpan(job.frame_first, job.frame_last, job.frame_step,
                                sum(counts.values())),
        animation=animation_view(job), progress=counts, width=job.width, height=job.height,
        renderer=job.renderer, options=json.loads(job.options), cluster=job.cluster,
        scene=SceneView(job.scene_kind, job.scene_size, job.scene_checksum),
        created_at=timeutil.iso(job.created_at), updated_at=timeutil.iso(job.updated_at))


def animation_view(job):
    """The animation the job's frames belong to, as POV-Ray defines one."""
    return Animation(job.anim_initial_frame, job.anim_final_frame, job.anim_initial_clock,
                     job.anim_final_clock, job.anim_cyclic)


def views(jobs, full=False):
    """Views of several jobs with their frame counts and owner names."""
    counts = frame_counts([j.id for j in jobs])
    shape = worker_view if full else user_view
    return [shape(j, counts[j.id], j.owner.name) for j in jobs]


def view_of(job, full=False):
    """The view of ``job`` as it is now in the database."""
    job = Job.select(Job, Job.owner.rel_model).join(Job.owner.rel_model).where(
        Job.id == job.id).get()
    return views([job], full)[0]


def view_of_loaded(job):
    """The user's view of ``job`` as it was read with its owner (job_lookup.visible_job)."""
    return views([job])[0]


# The job list's order: newest first.
NEWEST_FIRST = Job.id.desc()


def visible_jobs(principal, state=None, name=None, owner=None):
    """The jobs this principal may see, with their owners: those in ``state``, whose name
    holds ``name`` (any case), of the user named ``owner``."""
    user = Job.owner.rel_model
    query = Job.select(Job, user).join(user)
    if principal.kind != "admin":
        query = query.where(Job.owner == principal.user_id)
    if state:
        query = query.where(Job.state == state)
    if name:
        query = query.where(Job.name.contains(name))
    if owner:
        query = query.where(user.name == owner)
    return query


def page_of(query, limit, offset):
    """A page of the jobs of ``query`` (``visible_jobs``), newest first."""
    page = pagination.page(query, NEWEST_FIRST, limit, offset, "jobs", views)
    return JobPage(**dict(page, jobs=tuple(page["jobs"])))


def list_for_worker(cluster, states):
    query = Job.select(Job, Job.owner.rel_model).join(Job.owner.rel_model)
    if cluster:
        query = query.where(Job.cluster == cluster)
    if states:
        query = query.where(Job.state.in_(states))
    return WorkerJobList(tuple(views(list(query.order_by(Job.id)), full=True)))
