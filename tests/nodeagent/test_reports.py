"""How the agent reports a chunk's frames, seen in the calls it makes (a recording proxy
between it and the real API): to an API of agent protocol 2, the frames finished together
go in one report after one question whether the lease still holds them; to an API of
protocol 1, each frame in a call of its own, as before."""

from .api_recorder import ApiRecorder
from .conftest import Agent, png_size

FRAMES = 12


def rendered_job(setup, recorder, **job_fields):
    """Render a job of FRAMES small frames with one agent through ``recorder``."""
    job_id, job_dir = setup.job(frames="1-%d" % FRAMES, width=64, height=48, **job_fields)
    agent = Agent(job_dir, recorder, job_id, "node-1")
    setup.agents.append(agent)
    assert agent.wait() == 0, agent.output()
    return job_id, job_dir, agent


def test_frames_finished_together_go_in_one_report_after_one_lease_check(setup):
    api = setup.start_api()
    with ApiRecorder(api.root) as recorder:
        job_id, job_dir, agent = rendered_job(setup, recorder)
    frames = api.frames(job_id)
    assert all(frames[n]["state"] == "done" for n in range(1, FRAMES + 1))
    for number in range(1, FRAMES + 1):
        assert png_size(job_dir / "frames" / ("frame_%05d.png" % number)) == (64, 48)
    reports = recorder.bodies("/reports")
    completions = recorder.paths("/complete")
    reported = [entry["frame"] for body in reports for entry in body["done"]]
    assert sorted(reported + [int(path.split("/")[-2]) for path in completions]) == \
        list(range(1, FRAMES + 1))
    # The first frame comes alone (nothing is rendered yet, so no chunk is sized); of the
    # chunk after it, the frames finished while the first of them was delivered go
    # together, a second apart at most.
    assert reports and len(reports) + len(completions) < FRAMES
    # One question to the API whether the lease holds them before each delivery is placed.
    assert len(recorder.paths("/heartbeat")) == len(reports) + len(completions)
    assert not recorder.paths("/release")
    output = agent.output()
    assert all("completion of frame %d recorded, frame is done" % n in output
               for n in range(1, FRAMES + 1))


def test_an_api_of_protocol_1_gets_a_call_for_each_frame(setup):
    api = setup.start_api()

    def from_an_older_api(answer):
        answer.pop("protocol", None)
        return answer

    with ApiRecorder(api.root, claim_answer=from_an_older_api) as recorder:
        job_id, _, _ = rendered_job(setup, recorder)
    assert all(frame["state"] == "done" for frame in api.frames(job_id).values())
    assert not recorder.paths("/reports")
    assert sorted(int(path.split("/")[-2]) for path in recorder.paths("/complete")) == \
        list(range(1, FRAMES + 1))


def test_the_rest_of_a_broken_chunk_is_handed_back_in_one_call(setup):
    api = setup.start_api(max_attempts=1)
    with ApiRecorder(api.root) as recorder:
        job_id, _, _ = rendered_job(setup, recorder, scene="fails_at_frame_3.pov")
    frames = api.frames(job_id)
    assert [frames[n]["state"] for n in (1, 2, 3, 4)] == ["done", "done", "failed", "pending"]
    assert api.job(job_id)["state"] == "failed"
    assert not recorder.paths("/release")
    released = [body["released"] for body in recorder.bodies("/reports") if body["released"]]
    assert released == [list(range(4, FRAMES + 1))]
