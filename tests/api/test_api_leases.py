"""Node agent endpoints: claims, heartbeats, results, leases that expire, stale leases."""
import datetime

import pytest

from raycrafter_api import config as config_module, timeutil
from raycrafter_api.database import db
from raycrafter_api.database.models import Command, Frame
from raycrafter_api.frames import leases
from support.api_testing import assert_error, sha256


def claim_body(world, job_id, agent=None, holder="nid001"):
    return world.claim(agent or world.agent_x, job_id, holder)


def age_lease(job_id, number, seconds=120):
    """Move a lease's expiry into the past, as if its holder fell silent long ago."""
    with db.connection():
        Frame.update(lease_expires_at=timeutil.now() - datetime.timedelta(seconds=seconds)
                     ).where(Frame.job == job_id, Frame.number == number).execute()


def frame_row(job_id, number):
    with db.connection():
        return Frame.get(Frame.job == job_id, Frame.number == number)


def test_claim_leases_frames_in_order_and_moves_job_to_running(world, api):
    job_id = world.job_x["id"]
    first = claim_body(world, job_id)
    assert first["status"] == "leased" and first["frame"] == 1 and first["attempt"] == 1
    assert first["lease"]["seconds"] == 60 and first["lease"]["expires_at"].endswith("Z")
    assert first["job"] == {"id": job_id, "width": 64, "height": 48,
                            "frames": {"first": 1, "last": 3, "step": 1},
                            "animation": {"initial_frame": 1, "final_frame": 3,
                                          "initial_clock": 0.0, "final_clock": 1.0,
                                          "cyclic": False},
                            "renderer": "povray", "options": {}, "scene_file": "scene.pov"}
    assert world.job(job_id)["state"] == "running"
    assert claim_body(world, job_id)["frame"] == 2
    assert claim_body(world, job_id)["frame"] == 3
    wait = claim_body(world, job_id)
    assert wait["status"] == "wait" and 1 <= wait["retry_after"] <= 60
    row = frame_row(job_id, 1)
    assert row.state == "leased" and row.lease_holder == "nid001"


def test_claim_answers_wait_before_submission_and_stop_after(world):
    job = world.create_job(world.alice)
    world.transition(job["id"], "staging")
    submission = world.worker.post(f"/worker/jobs/{job['id']}/submissions", json={}).json()
    agent = world.api.client(submission["agent_token"])
    # Its batch job started before the worker reported it submitted: soon, again.
    assert world.claim(agent, job["id"]) == {"status": "wait", "retry_after": 1}
    world.alice.post(f"/jobs/{job['id']}/cancel")
    assert_error(agent.post(f"/agent/jobs/{job['id']}/claim", json={"holder": "nid001"}),
                 401, "token_revoked")


def test_complete_every_frame_moves_job_to_collecting_with_collect_command(world):
    job_id = world.job_x["id"]
    for _ in range(3):
        claim = claim_body(world, job_id)
        response = world.complete(world.agent_x, job_id, claim)
        assert response.status_code == 200 and response.json() == {"frame_state": "done"}
    assert claim_body(world, job_id) == {"status": "finished"}
    job = world.job(job_id)
    assert job["state"] == "collecting" and job["progress"]["done"] == 3
    with db.connection():
        assert Command.select().where(Command.job == job_id,
                                      Command.command == "collect").count() == 1
    row = frame_row(job_id, 2)
    assert row.render_seconds == 1.5 and row.log_tail == "rendered frame 2" and row.size > 0


def test_a_retried_complete_is_answered_the_same(world):
    job_id = world.job_x["id"]
    claim = claim_body(world, job_id)
    assert world.complete(world.agent_x, job_id, claim).status_code == 200
    again = world.complete(world.agent_x, job_id, claim)
    assert again.status_code == 200 and again.json() == {"frame_state": "done"}


@pytest.mark.parametrize("number", [100000, 2 ** 31, 10 ** 30])
def test_a_frame_number_beyond_every_frames_names_no_frame(world, number):
    """Found by fuzzing: the database's integer column refused it with a 500."""
    job_id = world.job_x["id"]
    claim = claim_body(world, job_id)
    for call in ("heartbeat", "release"):
        assert_error(world.agent_x.post(f"/agent/jobs/{job_id}/frames/{number}/{call}",
                                        json={"lease_id": claim["lease"]["id"]}), 404)
    assert_error(world.alice.get(f"/jobs/{job_id}/frames/{number}/log"), 404)


def test_heartbeat_extends_and_stale_lease_is_409(world):
    job_id = world.job_x["id"]
    claim = claim_body(world, job_id)
    url = f"/agent/jobs/{job_id}/frames/{claim['frame']}"
    before = frame_row(job_id, claim["frame"]).lease_expires_at
    response = world.agent_x.post(f"{url}/heartbeat", json={"lease_id": claim["lease"]["id"]})
    assert response.status_code == 200 and response.json()["expires_at"].endswith("Z")
    assert frame_row(job_id, claim["frame"]).lease_expires_at >= before
    for call in ("heartbeat", "release"):
        assert_error(world.agent_x.post(f"{url}/{call}", json={"lease_id": "other"}), 409,
                     "stale_lease")
    assert_error(world.agent_x.post(f"{url}/fail", json={"lease_id": "other", "reason": "x"}),
                 409, "stale_lease")
    stale = {"lease_id": "other", "render_seconds": 1, "checksum": sha256(b"x"), "size": 1}
    assert_error(world.agent_x.post(f"{url}/complete", json=stale), 409, "stale_lease")
    assert_error(world.agent_x.post(f"/agent/jobs/{job_id}/frames/2/heartbeat",
                                    json={"lease_id": claim["lease"]["id"]}), 409, "stale_lease")
    assert_error(world.agent_x.post(f"/agent/jobs/{job_id}/frames/99/heartbeat",
                                    json={"lease_id": claim["lease"]["id"]}), 404)


def test_expired_lease_goes_back_to_pending_and_its_result_is_stale(world):
    job_id = world.job_x["id"]
    old = claim_body(world, job_id, holder="slow-node")
    age_lease(job_id, old["frame"])
    new = claim_body(world, job_id, holder="fast-node")
    assert new["frame"] == old["frame"] and new["attempt"] == 2
    assert_error(world.complete(world.agent_x, job_id, old), 409, "stale_lease")
    assert world.complete(world.agent_x, job_id, new).status_code == 200
    events = world.alice.get(f"/jobs/{job_id}/events").json()["events"]
    expiry = [e for e in events if e["frame"] == old["frame"] and e["to"] == "pending"]
    assert expiry and "slow-node" in expiry[0]["reason"] and expiry[0]["actor"] == "system"


def test_heartbeat_after_expiry_is_stale_and_counts_an_attempt(world):
    job_id = world.job_x["id"]
    claim = claim_body(world, job_id)
    age_lease(job_id, claim["frame"])
    assert_error(world.agent_x.post(f"/agent/jobs/{job_id}/frames/{claim['frame']}/heartbeat",
                                    json={"lease_id": claim["lease"]["id"]}), 409,
                 "stale_lease")
    row = frame_row(job_id, claim["frame"])
    assert row.state == "pending" and row.attempts == 1 and row.lease_id is None


@pytest.mark.parametrize("call, body", [
    ("complete", {"render_seconds": 1, "checksum": sha256(b"x"), "size": 1}),
    ("fail", {"reason": "too late"}),
    ("release", {}),
])
def test_an_expired_lease_is_stale_though_nobody_claimed_the_frame_since(world, call, body):
    job_id = world.job_x["id"]
    claim = claim_body(world, job_id)
    age_lease(job_id, claim["frame"])
    response = world.agent_x.post(f"/agent/jobs/{job_id}/frames/{claim['frame']}/{call}",
                                  json={"lease_id": claim["lease"]["id"], **body})
    assert_error(response, 409, "stale_lease")
    row = frame_row(job_id, claim["frame"])
    assert row.state == "pending" and row.attempts == 1 and row.lease_id is None


@pytest.mark.parametrize("left_as", ["leased", "pending"])
def test_the_job_is_rendered_once_no_frame_is_left_in_any_state(world, left_as):
    job_id = world.create_job(world.alice, frames="1-2")["id"]
    agent = world.api.client(world.submit(job_id))
    first = world.claim(agent, job_id)
    second = world.claim(agent, job_id, holder="nid002") if left_as == "leased" else None
    assert world.complete(agent, job_id, first).status_code == 200
    assert frame_row(job_id, 2).state == left_as
    assert world.job(job_id)["state"] == "running"
    second = second or world.claim(agent, job_id, holder="nid002")
    assert world.complete(agent, job_id, second).status_code == 200
    assert world.job(job_id)["state"] == "collecting"


def test_release_hands_back_without_counting(world):
    job_id = world.job_x["id"]
    claim = claim_body(world, job_id)
    response = world.agent_x.post(f"/agent/jobs/{job_id}/frames/{claim['frame']}/release",
                                  json={"lease_id": claim["lease"]["id"]})
    assert response.json() == {"frame_state": "pending"}
    again = claim_body(world, job_id)
    assert again["frame"] == claim["frame"] and again["attempt"] == 1


def test_failures_retry_then_fail_frame_and_job_with_a_reason(world):
    job_id = world.job_x["id"]
    for attempt in (1, 2, 3):
        claim = claim_body(world, job_id)
        assert claim["frame"] == 1 and claim["attempt"] == attempt
        response = world.agent_x.post(f"/agent/jobs/{job_id}/frames/1/fail", json={
            "lease_id": claim["lease"]["id"], "reason": "Parse Error: No matching } in {",
            "log_tail": "line 3: parse error"})
        expected = "failed" if attempt == 3 else "pending"
        assert response.json() == {"frame_state": expected}
    job = world.job(job_id)
    assert job["state"] == "failed"
    assert "frame 1 failed 3 times" in job["error"] and "Parse Error" in job["error"]
    assert_error(world.agent_x.post(f"/agent/jobs/{job_id}/claim", json={"holder": "nid001"}),
                 401, "token_revoked")
    with db.connection():
        assert Command.select().where(Command.job == job_id,
                                      Command.command == "cancel").count() == 1
    log = world.alice.get(f"/jobs/{job_id}/frames/1/log")
    assert log.text == "line 3: parse error"


def test_expiry_in_the_reconcile_loop_fails_after_max_attempts(world, api):
    job_id = world.job_x["id"]
    config = config_module.from_dict({**api.config.__dict__, "clusters": ["default"],
                                      "max_attempts": 1})
    claim_body(world, job_id)
    age_lease(job_id, 1)
    with db.connection():
        assert leases.expire_all_overdue(config) == [job_id]
    assert world.job(job_id)["state"] == "failed"
    assert "stopped sending heartbeats" in world.job(job_id)["error"]


def test_heartbeat_on_a_cancelled_job_tells_the_agent_to_stop(world):
    job_id = world.job_x["id"]
    claim = claim_body(world, job_id)
    world.alice.post(f"/jobs/{job_id}/cancel")
    url = f"/agent/jobs/{job_id}/frames/{claim['frame']}"
    assert_error(world.agent_x.post(f"{url}/heartbeat", json={"lease_id": claim["lease"]["id"]}),
                 401, "token_revoked")
    assert_error(world.complete(world.agent_x, job_id, claim), 401, "token_revoked")


@pytest.mark.parametrize("body, field", [
    ({}, "holder"), ({"holder": ""}, "holder"), ({"holder": 5}, "holder"),
])
def test_claim_validates_holder(world, body, field):
    assert_error(world.agent_x.post(f"/agent/jobs/{world.job_x['id']}/claim", json=body), 400,
                 "invalid_field", field)


@pytest.mark.parametrize("change, field", [
    ({"checksum": "ABC"}, "checksum"), ({"size": 0}, "size"), ({"size": "1"}, "size"),
    ({"render_seconds": -1}, "render_seconds"), ({"log_tail": 3}, "log_tail"),
    ({"lease_id": None}, "lease_id"),
])
def test_complete_validates_its_fields(world, change, field):
    job_id = world.job_x["id"]
    claim = claim_body(world, job_id)
    body = {"lease_id": claim["lease"]["id"], "render_seconds": 1, "checksum": sha256(b"x"),
            "size": 1, **change}
    assert_error(world.agent_x.post(f"/agent/jobs/{job_id}/frames/{claim['frame']}/complete",
                                    json=body), 400, "invalid_field", field)


def test_agent_bodies_must_be_json_objects(world):
    url = f"/agent/jobs/{world.job_x['id']}/claim"
    assert_error(world.agent_x.post(url, data="holder=x",
                                    headers={"Content-Type": "text/plain"}), 415)
    assert_error(world.agent_x.post(url, data="{oops",
                                    headers={"Content-Type": "application/json"}), 400,
                 "invalid_field", "body")
    assert_error(world.agent_x.post(url, json=[1]), 400, "invalid_field", "body")
    assert_error(world.agent_x.post(url, data=b"{" + b" " * (1024 * 1024 + 10) + b"}",
                                    headers={"Content-Type": "application/json"}), 413)


@pytest.mark.parametrize("holder", ["n" * 121, "nid\n001", "", "   "])
def test_a_holder_name_the_api_cannot_keep_is_a_400(world, holder):
    response = world.agent_x.post(f"/agent/jobs/{world.job_x['id']}/claim",
                                  json={"holder": holder})
    assert response.status_code == 400 and response.json()["details"]["field"] == "holder"


def test_the_longest_holder_name_is_kept_in_the_events(world):
    holder = "n" * 120
    world.claim(world.agent_x, world.job_x["id"], holder=holder)
    events = world.alice.get(f"/jobs/{world.job_x['id']}/events").json()["events"]
    assert f"agent:{holder}" in {event["actor"] for event in events}
