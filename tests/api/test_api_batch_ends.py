"""A batch job that ended: the worker reports what its poll saw, the API decides what
follows (worker_reports.batch_ended)."""
import pytest

from raycrafter_api.database import db
from raycrafter_api.database.models import Command
from support.api_testing import assert_error


def commands_of(job_id):
    with db.connection():
        return [c.command for c in Command.select().where(Command.job == job_id)
                .order_by(Command.created_at)]


def test_an_end_with_frames_left_resubmits_then_fails_after_max_submissions(world):
    job_id = world.job_x["id"]
    claim = world.claim(world.agent_x, job_id)
    again = world.batch_ended(job_id, 1, batch_job_id=str(1000 + job_id),
                              reason="in state TIMEOUT", exit_status=143)
    assert again["state"] == "staging"
    frames = world.alice.get(f"/jobs/{job_id}/frames").json()["frames"]
    assert frames[claim["frame"] - 1]["state"] == "pending"
    assert frames[claim["frame"] - 1]["attempts"] == 0  # its batch job is gone, not the frame
    assert commands_of(job_id) == ["submit", "submit"]
    events = world.alice.get(f"/jobs/{job_id}/events").json()["events"]
    assert events[-1]["reason"] == (f"batch job {1000 + job_id} of attempt 1 ended: in state "
                                    f"TIMEOUT, exit status 143; 3 frame(s) left, "
                                    f"submitting it again")
    world.worker.post(f"/worker/jobs/{job_id}/submissions", json={})
    world.transition(job_id, "submitted", batch_job_id="2002")
    final = world.batch_ended(job_id, 2, reason="in state NODE_FAIL")
    assert final["state"] == "failed"
    assert "ended 2 times" in final["error"]
    assert "batch job 2002 of attempt 2 ended: in state NODE_FAIL" in final["error"]
    assert commands_of(job_id) == ["submit", "submit", "cancel"]


def test_a_repeated_report_changes_nothing(world):
    job_id = world.job_x["id"]
    world.batch_ended(job_id, 1, reason="in state COMPLETED", exit_status=0)
    again = world.batch_ended(job_id, 1, reason="in state COMPLETED", exit_status=0)
    assert again["state"] == "staging" and again["submit_attempt"] == 1
    assert commands_of(job_id) == ["submit", "submit"]


def test_the_end_of_a_job_with_every_frame_rendered_changes_nothing(world):
    job_id = world.job_x["id"]
    for _ in range(3):
        world.complete(world.agent_x, job_id, world.claim(world.agent_x, job_id))
    assert world.job(job_id)["state"] == "collecting"
    after = world.batch_ended(job_id, 1, reason="in state COMPLETED", exit_status=0)
    assert after["state"] == "collecting"
    assert commands_of(job_id) == ["submit", "collect"]


def test_a_late_report_about_an_older_attempt_is_refused(world):
    """The poll saw batch job 1 end, but the job was submitted again (attempt 2) before the
    report arrived: the report must not send attempt 2 back to staging."""
    job_id = world.job_x["id"]
    world.transition(job_id, "running", attempt=1)
    world.batch_ended(job_id, 1, batch_job_id="1001")
    world.worker.post(f"/worker/jobs/{job_id}/submissions", json={})
    world.transition(job_id, "submitted", batch_job_id="2002", attempt=2)
    late = world.worker.post(f"/worker/jobs/{job_id}/batch-ended",
                             json={"attempt": 1, "batch_job_id": "1001"})
    body = assert_error(late, 409, "stale_attempt")
    assert body["details"] == {"attempt": 1, "current_attempt": 2}
    assert world.job(job_id)["state"] == "submitted"
    assert_error(world.worker.post(f"/worker/jobs/{job_id}/transition",
                                   json={"to": "running", "attempt": "2"}), 400,
                 "invalid_field", "attempt")


def test_the_worker_cannot_send_a_submitted_job_back_to_staging_itself(world):
    job_id = world.job_x["id"]
    body = assert_error(world.worker.post(f"/worker/jobs/{job_id}/transition",
                                          json={"to": "staging"}), 409, "illegal_transition")
    assert "batch-ended" in body["message"]
    assert world.job(job_id)["state"] == "submitted"
    assert commands_of(job_id) == ["submit"]


@pytest.mark.parametrize("body, field", [
    ({}, "attempt"), ({"attempt": 0}, "attempt"), ({"attempt": True}, "attempt"),
    ({"attempt": 1, "exit_status": "0"}, "exit_status"),
    ({"attempt": 1, "exit_status": 2**31}, "exit_status"),
    ({"attempt": 1, "exit_status": False}, "exit_status"),
    ({"attempt": 1, "reason": 7}, "reason"),
    ({"attempt": 1, "batch_job_id": 1001}, "batch_job_id"),
    ({"attempt": 1, "batch_job_id": ""}, "batch_job_id"),
])
def test_a_malformed_report_is_a_400_naming_the_field(world, body, field):
    job_id = world.job_x["id"]
    assert_error(world.worker.post(f"/worker/jobs/{job_id}/batch-ended", json=body), 400,
                 "invalid_field", field)
    assert world.job(job_id)["state"] == "submitted"


def test_a_report_about_a_missing_job_is_a_404(world):
    assert_error(world.worker.post("/worker/jobs/999999/batch-ended", json={"attempt": 1}),
                 404)
