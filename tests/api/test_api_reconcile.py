"""The reconciler re-writes a command for a job stuck in a state past its deadline."""
import datetime

import pytest

from raycrafter_api import timeutil
from raycrafter_api.database import db
from raycrafter_api.database.models import Command, Job
from raycrafter_api.outbox.commands import reconcile_stuck_jobs


@pytest.fixture
def config_values(config_values):
    return {**config_values, "reconcile_after_seconds": {"pending": 60, "collecting": 60}}


def backdate(job_id, minutes):
    past = timeutil.now() - datetime.timedelta(minutes=minutes)
    with db.connection():
        Job.update(state_changed_at=past).where(Job.id == job_id).execute()
        Command.update(created_at=past, sent_at=past).where(Command.job == job_id).execute()


def commands(job_id):
    with db.connection():
        return [c.command for c in Command.select().where(Command.job == job_id)
                .order_by(Command.created_at)]


def test_stuck_pending_job_gets_a_new_submit_once_per_deadline(world, api):
    job = world.create_job(world.alice)
    with db.connection():
        assert reconcile_stuck_jobs(api.config) == []
    backdate(job["id"], 5)
    with db.connection():
        written = reconcile_stuck_jobs(api.config)
        assert [(c.job_id, c.command) for c in written] == [(job["id"], "submit")]
        assert reconcile_stuck_jobs(api.config) == []
    assert commands(job["id"]) == ["submit", "submit"]


def test_unsent_command_is_not_duplicated(world, api):
    job = world.create_job(world.alice)
    past = timeutil.now() - datetime.timedelta(minutes=5)
    with db.connection():
        Job.update(state_changed_at=past).where(Job.id == job["id"]).execute()
        Command.update(created_at=past).where(Command.job == job["id"]).execute()
        assert reconcile_stuck_jobs(api.config) == []


def test_jobs_in_other_states_are_left_alone(world, api):
    backdate(world.job_x["id"], 60)
    with db.connection():
        assert reconcile_stuck_jobs(api.config) == []
