"""Chunked leases: a claim leases a run of consecutive frames sized from the job's render
times, one heartbeat keeps the whole chunk, and a lost chunk gives back only the frames
that were not done."""
import datetime

import pytest
from raycrafter_api import timeutil
from raycrafter_api.database import db
from raycrafter_api.database.models import Frame
from raycrafter_api.frames.leases import RENDER_TIME_SAMPLE

from support.api_testing import assert_error
from test_api_leases import age_lease, frame_row

# world.complete reports 1.5 s per frame: a 6 s target makes chunks of 4 frames.
TARGET_SECONDS, MAX_CHUNK = 6.0, 5


@pytest.fixture
def config_values(tmp_path, database_url):
    return {"database_url": database_url, "data_dir": str(tmp_path / "data"),
            "lease_seconds": 60, "max_attempts": 3, "chunk_target_seconds": TARGET_SECONDS,
            "max_chunk_frames": MAX_CHUNK}


@pytest.fixture
def job(world):
    """A submitted job of 12 frames and its agent."""
    job = world.create_job(world.alice, frames="1-12")
    return job["id"], world.api.client(world.submit(job["id"]))


def test_the_first_claim_leases_one_frame_then_chunks_follow_the_render_times(world, job):
    job_id, agent = job
    first = world.claim(agent, job_id, max_frames=50)
    assert first["frames"] == [1] and first["frame"] == 1  # nothing rendered yet
    assert world.complete(agent, job_id, first).status_code == 200
    second = world.claim(agent, job_id, max_frames=50)
    assert second["frames"] == [2, 3, 4, 5]                  # 6 s / 1.5 s per frame
    assert second["frame"] == 2 and second["attempt"] == 1
    assert {frame_row(job_id, n).lease_id for n in (2, 3, 4, 5)} == {second["lease"]["id"]}
    assert world.claim(agent, job_id, max_frames=2)["frames"] == [6, 7]  # the agent's own cap
    assert world.claim(agent, job_id)["frames"] == [8]       # an agent that asks for no chunk


def test_each_frame_of_a_chunk_has_its_own_event(world, job):
    job_id, agent = job
    world.complete(agent, job_id, world.claim(agent, job_id))
    chunk = world.claim(agent, job_id, holder="nid007", max_frames=50)
    events = world.alice.get(f"/jobs/{job_id}/events", params={"limit": 500}).json()["events"]
    leased = [(e["frame"], e["from"], e["actor"]) for e in events if e["to"] == "leased"]
    assert leased[1:] == [(n, "pending", "agent:nid007") for n in chunk["frames"]]


def test_the_cap_bounds_a_chunk_of_fast_frames(world, job):
    job_id, agent = job
    claim = world.claim(agent, job_id, max_frames=50)  # rendered in no time at all
    response = agent.post(f"/agent/jobs/{job_id}/frames/1/complete", json={
        "lease_id": claim["lease"]["id"], "render_seconds": 0.0, "size": 1,
        "checksum": "0" * 64})
    assert response.status_code == 200, response.text
    assert world.claim(agent, job_id, max_frames=50)["frames"] == [2, 3, 4, 5, 6]


def test_chunks_follow_the_render_times_of_the_last_frames_rendered(world):
    frames = 3 * RENDER_TIME_SAMPLE
    job_id = world.create_job(world.alice, frames=f"1-{frames + 10}")["id"]
    agent = world.api.client(world.submit(job_id))
    # The scene got slower: the early frames took 0.1 s, the last ones 1.5 s each (over
    # all done frames 0.57 s, which would make chunks of the cap, 5).
    with db.connection():
        Frame.update(state="done", render_seconds=0.1).where(
            Frame.job == job_id, Frame.number <= frames).execute()
        Frame.update(render_seconds=1.5).where(
            Frame.job == job_id, Frame.number > frames - RENDER_TIME_SAMPLE,
            Frame.number <= frames).execute()
    first = frames + 1
    assert world.claim(agent, job_id, max_frames=50)["frames"] == list(range(first, first + 4))


def test_chunks_share_out_the_last_frames_among_the_renderers_at_work(world, job):
    job_id, agent = job
    world.complete(agent, job_id, world.claim(agent, job_id))
    claims = [world.claim(agent, job_id, max_frames=50)["frames"] for _ in range(5)]
    # 11 pending, none in flight: 6 s at 1.5 s a frame. Then 7 for two: 4; 3 for three: 1.
    assert claims == [[2, 3, 4, 5], [6, 7, 8, 9], [10], [11], [12]]


def test_a_chunk_is_consecutive_frames_only(world, job):
    job_id, agent = job
    world.complete(agent, job_id, world.claim(agent, job_id))
    chunk = world.claim(agent, job_id, max_frames=3)
    assert chunk["frames"] == [2, 3, 4]
    released = agent.post(f"/agent/jobs/{job_id}/frames/3/release",
                          json={"lease_id": chunk["lease"]["id"]})
    assert released.status_code == 200, released.text
    # Frame 3 is pending again, frame 4 still leased: the run starting at 3 stops there.
    assert world.claim(agent, job_id, max_frames=50)["frames"] == [3]
    # Frames 5-12 are left, two chunks are in flight: a third of them.
    assert world.claim(agent, job_id, max_frames=50)["frames"] == [5, 6, 7]


def test_each_frame_of_a_chunk_completes_as_it_is_rendered_and_one_heartbeat_keeps_all(
        world, job):
    job_id, agent = job
    world.complete(agent, job_id, world.claim(agent, job_id))
    chunk = world.claim(agent, job_id, max_frames=3)
    lease = chunk["lease"]["id"]
    assert world.complete(agent, job_id, chunk, frame=2).status_code == 200
    for number in (2, 3, 4):
        age_lease(job_id, number, seconds=-5)  # expiring in 5 s
    # A heartbeat through the chunk's first frame, done already, extends frames 3 and 4.
    beat = agent.post(f"/agent/jobs/{job_id}/frames/2/heartbeat", json={"lease_id": lease})
    assert beat.status_code == 200, beat.text
    soon = timeutil.now() + datetime.timedelta(seconds=30)
    assert all(frame_row(job_id, n).lease_expires_at > soon for n in (3, 4))
    assert world.complete(agent, job_id, chunk, frame=3).status_code == 200
    assert world.complete(agent, job_id, chunk, frame=4).status_code == 200
    # Nothing of the chunk is leased any more: its lease is over.
    gone = agent.post(f"/agent/jobs/{job_id}/frames/2/heartbeat", json={"lease_id": lease})
    assert_error(gone, 409, "stale_lease")


def test_a_lost_chunk_gives_back_only_its_unfinished_frames(world, job):
    job_id, agent = job
    world.complete(agent, job_id, world.claim(agent, job_id))
    chunk = world.claim(agent, job_id, max_frames=4)
    assert chunk["frames"] == [2, 3, 4, 5]
    world.complete(agent, job_id, chunk, frame=2)
    world.complete(agent, job_id, chunk, frame=3)
    for number in (4, 5):
        age_lease(job_id, number)
    again = world.claim(agent, job_id, holder="nid002", max_frames=50)
    assert again["frames"][:2] == [4, 5] and again["attempt"] == 2
    assert [frame_row(job_id, n).state for n in (2, 3)] == ["done", "done"]
    assert [frame_row(job_id, n).attempts for n in (2, 3, 4, 5)] == [0, 0, 1, 1]
    late = agent.post(f"/agent/jobs/{job_id}/frames/4/heartbeat",
                      json={"lease_id": chunk["lease"]["id"]})
    assert_error(late, 409, "stale_lease")


def test_a_heartbeat_through_a_done_frame_of_an_overdue_chunk_is_stale(world, job):
    job_id, agent = job
    world.complete(agent, job_id, world.claim(agent, job_id))
    chunk = world.claim(agent, job_id, max_frames=4)
    world.complete(agent, job_id, chunk, frame=2)
    for number in (3, 4, 5):
        age_lease(job_id, number)
    late = agent.post(f"/agent/jobs/{job_id}/frames/2/heartbeat",
                      json={"lease_id": chunk["lease"]["id"]})
    assert_error(late, 409, "stale_lease")
    assert [(frame_row(job_id, n).state, frame_row(job_id, n).attempts)
            for n in (2, 3, 4, 5)] == [("done", 0)] + [("pending", 1)] * 3


@pytest.mark.parametrize("max_frames", [0, -1, 1001, "3", True, 2.5])
def test_a_claim_for_a_bad_number_of_frames_is_refused(world, job, max_frames):
    job_id, agent = job
    response = agent.post(f"/agent/jobs/{job_id}/claim",
                          json={"holder": "nid001", "max_frames": max_frames})
    assert_error(response, 400, field="max_frames")


@pytest.mark.parametrize("spelling", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_render_time_that_is_no_finite_number_is_refused_and_chunks_go_on(world, job,
                                                                             spelling):
    # Python's json takes these spellings; one NaN render time in the job's mean once made
    # every chunked claim of the job answer 500.
    job_id, agent = job
    claim = world.claim(agent, job_id, max_frames=50)
    text = ('{"lease_id": "%s", "render_seconds": %s, "checksum": "%s", "size": %d}'
            % (claim["lease"]["id"], spelling, "0" * 64, 1))
    response = agent.post(f"/agent/jobs/{job_id}/frames/1/complete", data=text,
                          headers={"Content-Type": "application/json"})
    body = assert_error(response, 400, "invalid_field", "render_seconds")
    assert body["message"] == f"render_seconds: must be a finite number, not {spelling}"
    assert frame_row(job_id, 1).state == "leased"
    assert world.complete(agent, job_id, claim).status_code == 200
    assert world.claim(agent, job_id, max_frames=50)["frames"] == [2, 3, 4, 5]


def test_a_number_that_is_not_finite_is_refused_wherever_it_sits_in_a_body(world, job):
    job_id, _ = job
    response = world.worker.post(f"/worker/jobs/{job_id}/transition",
                                 data='{"to": "running", "notes": [1, {"load": NaN}]}',
                                 headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_field", "notes[1].load")
    assert world.job(job_id)["state"] == "submitted"
