"""What a researcher meets beyond the happy path: broken scenes, cancelling, privacy, and
job states that follow the cluster on their own."""
import json
import subprocess

import pytest

from conftest import EXAMPLES, SCENES, job_states
from support.cluster_records import queued_batch_jobs
from support.polling import wait_for

pytestmark = pytest.mark.e2e

# The CLI's exit statuses (docs/cli.md).
EXIT_FAILED, EXIT_CANCELLED, EXIT_REFUSED = 3, 4, 5

SMALL = ("--width", 64, "--height", 48)


def test_a_scene_with_a_syntax_error_fails_and_its_logs_show_the_renderers_error(researcher):
    job_id = researcher.submit(SCENES / "syntax_error.pov", "--frames", "1", *SMALL,
                               "--name", "e2e syntax error")
    waited = researcher.cli("wait", job_id, timeout=600)
    assert waited.returncode == EXIT_FAILED, waited
    assert researcher.job(job_id)["state"] == "failed"
    assert "failed" in waited.stderr.lower()
    # The reason names the parse error and the command that shows the whole log.
    assert "pigmnet" in waited.stderr and f"raycrafter logs {job_id} --frame 1" in waited.stderr
    logs = researcher.cli("logs", job_id)
    assert logs.returncode == 0, logs.stderr
    # POV-Ray wraps its messages at 80 columns, wherever the scene's path puts the break.
    assert "Parse Error" in unwrapped(logs.stdout) and "pigmnet" in logs.stdout
    frame_logs = researcher.cli("logs", job_id, "--frame", 1)
    assert "Parse Error" in unwrapped(frame_logs.stdout)


def unwrapped(text):
    return " ".join(text.split())


def test_a_job_cancelled_while_running_leaves_no_batch_job_in_slurm(researcher):
    job_id = researcher.submit(EXAMPLES / "orbit", "--frames", "1-500", *SMALL,
                               "--name", "e2e cancel")
    researcher.wait_until(job_id, lambda job: job["state"] == "running", timeout=300,
                          message="the job to run")
    assert queued_batch_jobs(job_id), "a running job has its batch job in the queue"
    cancelled = researcher.cli("cancel", job_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert researcher.job(job_id)["state"] == "cancelled"
    wait_for(lambda: not queued_batch_jobs(job_id), timeout=120, interval=1,
             message=f"job {job_id}'s batch job to leave Slurm's queue")
    waited = researcher.cli("wait", job_id)
    assert waited.returncode == EXIT_CANCELLED and "cancelled" in waited.stderr.lower()
    assert job_states(researcher.events(job_id))[-1] == "cancelled"


def test_two_users_see_only_their_own_jobs(new_user):
    alice, bob = new_user("alice"), new_user("bob")
    alices = alice.submit(EXAMPLES / "orbit", "--frames", "1", *SMALL, "--name", "alice's")
    bobs = bob.submit(EXAMPLES / "orbit", "--frames", "1", *SMALL, "--name", "bob's")
    for user, own, other in ((alice, alices, bobs), (bob, bobs, alices)):
        listed = user.cli("jobs", "--json")
        assert listed.returncode == 0, listed.stderr
        payload = json.loads(listed.stdout)
        jobs = payload["jobs"] if isinstance(payload, dict) else payload
        assert [job["id"] for job in jobs] == [own]
        status = user.cli("status", other)
        assert status.returncode == EXIT_REFUSED and "not found" in status.stderr.lower()
        assert user.cli("cancel", other).returncode == EXIT_REFUSED
    for user, own in ((alice, alices), (bob, bobs)):
        assert user.cli("wait", own, timeout=600).returncode == 0


def test_job_states_follow_the_cluster_without_anyone_asking(researcher):
    """A batch job that dies behind the appliance's back (here: scancel by the site) is
    noticed by the worker's scheduled poll; the job is resubmitted and still ends done."""
    job_id = researcher.submit(EXAMPLES / "orbit", "--frames", "1-40", *SMALL,
                               "--name", "e2e scheduled poll")
    researcher.wait_until(job_id, lambda job: job["state"] == "running", timeout=300,
                          message="the job to run")
    (slurm_id, first_name, _), = queued_batch_jobs(job_id)
    subprocess.run(["scancel", slurm_id], check=True)
    researcher.wait_until(job_id, lambda job: job["state"] in ("staging", "submitted")
                          or job_states(researcher.events(job_id)).count("submitted") > 1,
                          timeout=180, message="the poll to notice the batch job ended")
    assert researcher.cli("wait", job_id, timeout=600).returncode == 0
    events = researcher.events(job_id)
    assert job_states(events).count("submitted") == 2
    requeued = [e for e in events if e["frame"] is None and e["from"] in ("running", "submitted")
                and e["to"] == "staging"]
    assert requeued and requeued[0]["actor"] == "worker", requeued
