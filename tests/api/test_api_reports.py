"""Reports of several frames of one lease in one call (agent protocol 2): each frame taken
as its own call would take it, with an outcome for each, the others taken all the same."""
import pytest

from raycrafter_api.database import db
from raycrafter_api.database.models import Command
from raycrafter_contract.wire.agent_calls import AGENT_PROTOCOL, LeaseReportsAnswer
from support.api_testing import PNG, assert_error, sha256
from test_api_chunks import config_values  # noqa: F401 (chunks of 4 frames, as there)
from test_api_leases import age_lease, frame_row


@pytest.fixture
def job(world):
    """A submitted job of 9 frames, its agent, and a chunk of frames 2-5 leased (frame 1
    done before, so that chunks follow the render times)."""
    job = world.create_job(world.alice, frames="1-9")
    job_id = job["id"]
    agent = world.api.client(world.submit(job_id))
    world.complete(agent, job_id, world.claim(agent, job_id))
    chunk = world.claim(agent, job_id, max_frames=50)
    assert chunk["frames"] == [2, 3, 4, 5]
    return job_id, agent, chunk


def done(frame, image=PNG, **fields):
    return {"frame": frame, "render_seconds": 1.5, "checksum": sha256(image),
            "size": len(image), "log_tail": f"rendered frame {frame}", **fields}


def report(agent, job_id, chunk, **lists):
    return agent.post(f"/agent/jobs/{job_id}/reports",
                      json={"lease_id": chunk["lease"]["id"], **lists})


def outcomes(response):
    assert response.status_code == 200, response.text
    answer = LeaseReportsAnswer.from_json(response.json())
    return [(o.frame, o.frame_state, o.refused and o.refused.error) for o in answer.frames]


def events_of(world, job_id):
    events = world.alice.get(f"/jobs/{job_id}/events", params={"limit": 500}).json()["events"]
    return [(e["frame"], e["from"], e["to"], e["actor"], e["reason"]) for e in events
            if e["frame"] is not None]


def test_a_lease_says_which_agent_protocol_the_api_speaks(job):
    _, _, chunk = job
    assert chunk["protocol"] == AGENT_PROTOCOL == 2


def test_a_chunks_frames_are_reported_in_one_call(world, job):
    job_id, agent, chunk = job
    answer = report(agent, job_id, chunk, done=[done(2), done(3), done(4)])
    assert outcomes(answer) == [(2, "done", None), (3, "done", None), (4, "done", None)]
    rows = [frame_row(job_id, n) for n in (2, 3, 4, 5)]
    assert [row.state for row in rows] == ["done", "done", "done", "leased"]
    assert rows[1].log_tail == "rendered frame 3" and rows[1].render_seconds == 1.5
    assert rows[2].checksum == sha256(PNG) and rows[2].lease_expires_at is None
    assert events_of(world, job_id)[-3:] == [(n, "leased", "done", "agent:nid001", None)
                                             for n in (2, 3, 4)]
    # The lease lives on in frame 5, and a retried report is answered the same.
    beat = agent.post(f"/agent/jobs/{job_id}/frames/2/heartbeat",
                      json={"lease_id": chunk["lease"]["id"]})
    assert beat.status_code == 200, beat.text
    assert outcomes(report(agent, job_id, chunk, done=[done(3), done(4)])) == [
        (3, "done", None), (4, "done", None)]
    assert len(events_of(world, job_id)) == 1 + 1 + 4 + 3  # nothing recorded twice


def test_done_failed_and_handed_back_in_one_report(world, job):
    job_id, agent, chunk = job
    answer = report(agent, job_id, chunk, done=[done(2)],
                    failed=[{"frame": 3, "reason": "povray exited with status 1",
                             "log_tail": "Parse Error"}],
                    released=[4, 5])
    assert outcomes(answer) == [(2, "done", None), (3, "pending", None),
                                (4, "pending", None), (5, "pending", None)]
    assert [(frame_row(job_id, n).state, frame_row(job_id, n).attempts)
            for n in (2, 3, 4, 5)] == [("done", 0), ("pending", 1), ("pending", 0),
                                       ("pending", 0)]
    assert frame_row(job_id, 3).log_tail == "Parse Error"
    assert events_of(world, job_id)[-4:] == [
        (2, "leased", "done", "agent:nid001", None),
        (3, "leased", "pending", "agent:nid001", "povray exited with status 1"),
        (4, "leased", "pending", "agent:nid001", "released by the agent"),
        (5, "leased", "pending", "agent:nid001", "released by the agent")]


def test_a_frame_the_lease_does_not_hold_is_refused_and_the_others_taken(world, job):
    job_id, agent, chunk = job
    other = world.claim(agent, job_id, holder="nid002", max_frames=50)
    assert other["frames"] == [6, 7]  # a fair share beside the chunk of frames 2-5
    answer = report(agent, job_id, chunk, done=[done(2), done(6), done(3), done(42)])
    assert outcomes(answer) == [(2, "done", None), (6, None, "stale_lease"),
                                (3, "done", None), (42, None, "not_found")]
    refused = answer.json()["frames"][1]["refused"]
    assert refused["details"] == {"frame": 6, "frame_state": "leased"}
    assert frame_row(job_id, 6).state == "leased"


def test_an_expired_lease_is_stale_for_every_frame_and_its_expiry_counts(world, job):
    job_id, agent, chunk = job
    for number in (2, 3, 4, 5):
        age_lease(job_id, number)
    answer = report(agent, job_id, chunk, done=[done(2), done(3)])
    assert outcomes(answer) == [(2, None, "stale_lease"), (3, None, "stale_lease")]
    assert [(frame_row(job_id, n).state, frame_row(job_id, n).attempts)
            for n in (2, 3, 4, 5)] == [("pending", 1)] * 4


def test_a_report_after_its_job_was_cancelled_is_refused_with_the_agents_token(world, job):
    """A job over revokes its agents' tokens (which ends their work), and its leased
    frames were handed back when it ended."""
    job_id, agent, chunk = job
    world.alice.post(f"/jobs/{job_id}/cancel")
    answer = report(agent, job_id, chunk, done=[done(2)], released=[3])
    assert_error(answer, 401, "token_revoked")
    assert [frame_row(job_id, number).state for number in (2, 3)] == ["pending", "pending"]


def test_the_report_that_leaves_nothing_to_render_moves_the_job_to_collecting(world, job):
    job_id, agent, chunk = job
    assert all(o[1] == "done" for o in outcomes(report(
        agent, job_id, chunk, done=[done(n) for n in chunk["frames"]])))
    assert world.job(job_id)["state"] == "running"
    last = world.claim(agent, job_id, max_frames=50)
    assert last["frames"] == [6, 7, 8, 9]
    assert all(o[1] == "done" for o in outcomes(report(
        agent, job_id, last, done=[done(n) for n in last["frames"]])))
    assert world.job(job_id)["state"] == "collecting"
    with db.connection():
        assert Command.select().where(Command.job == job_id,
                                      Command.command == "collect").count() == 1


@pytest.mark.parametrize("lists, field", [
    ({"done": [done(2), done(3, checksum="X" * 64)]}, "done[1].checksum"),
    ({"done": [done(2, render_seconds=-1)]}, "done[0].render_seconds"),
    ({"done": [done(2, size=0)]}, "done[0].size"),
    ({"done": [{"render_seconds": 1.0, "checksum": "0" * 64, "size": 1}]}, "done[0].frame"),
    ({"done": [dict(done(2), frame=True)]}, "done[0].frame"),
    ({"done": ["2"]}, "done[0]"),
    ({"done": {"frame": 2}}, "done"),
    ({"failed": [{"frame": 2}]}, "failed[0].reason"),
    ({"failed": [{"frame": 2, "reason": "x", "log_tail": 7}]}, "failed[0].log_tail"),
    ({"released": [2, "3"]}, "released[1]"),
    # Found by fuzzing: beyond the database's integer column, a 500.
    ({"released": [2, 2 ** 31]}, "released[1]"),
    ({"done": [done(10 ** 30)]}, "done[0].frame"),
    ({"failed": [{"frame": -1, "reason": "x"}]}, "failed[0].frame"),
    ({"done": [done(2)], "released": [2]}, "body"),
    ({}, "body"),
    ({"released": list(range(1, 1002))}, "body"),
])
def test_a_malformed_report_is_refused_whole_naming_the_field(world, job, lists, field):
    job_id, agent, chunk = job
    assert_error(report(agent, job_id, chunk, **lists), 400, "invalid_field", field)
    assert frame_row(job_id, 2).state == "leased"


def test_a_report_needs_the_lease_and_the_jobs_own_agent(world, job):
    job_id, agent, chunk = job
    response = agent.post(f"/agent/jobs/{job_id}/reports", json={"done": [done(2)]})
    assert_error(response, 400, "invalid_field", "lease_id")
    other = world.agent_y.post(f"/agent/jobs/{job_id}/reports",
                               json={"lease_id": chunk["lease"]["id"], "done": [done(2)]})
    assert_error(other, 403)
    assert_error(world.anonymous.post(f"/agent/jobs/{job_id}/reports", json={}), 401)
