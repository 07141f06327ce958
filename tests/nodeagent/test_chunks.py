"""Chunks through the real agent, API and POV-Ray: one POV-Ray process per chunk, each
frame reported as it is rendered, and a chunk that breaks partway keeps the frames before
the break, counts one attempt at the broken frame and hands the rest back."""
import re

from .conftest import claims_in, png_size


def rendering_lines(agent):
    return re.findall(r"rendering (frames? [\d-]+):", agent.output())


def test_a_job_renders_its_first_frame_alone_then_the_rest_as_one_chunk(setup):
    api = setup.start_api()
    job_id, job_dir = setup.job(frames="1-8", width=64, height=48)
    agent = setup.agent(job_dir, job_id, "node-1")
    assert agent.wait() == 0, agent.output()
    assert rendering_lines(agent) == ["frame 1", "frames 2-8"]
    assert [frame for frame, _, _ in claims_in(agent.output())] == list(range(1, 9))
    frames = api.frames(job_id)
    assert all(frames[n]["state"] == "done" and frames[n]["attempts"] == 0 for n in frames)
    # Each frame was reported on its own, with the time POV-Ray spent on it alone.
    assert all(0 < frames[n]["render_seconds"] < 30 for n in frames)
    # Frame 2 was reported while POV-Ray still rendered the rest of its chunk.
    output = agent.output()
    assert output.index("completion of frame 2 recorded") < output.rindex("POV-Ray finished")
    for number in range(1, 9):
        assert png_size(job_dir / "frames" / ("frame_%05d.png" % number)) == (64, 48)


def test_a_chunk_that_breaks_keeps_the_frames_before_and_hands_back_those_after(setup):
    api = setup.start_api(max_attempts=2)
    job_id, job_dir = setup.job(scene="fails_at_frame_3.pov", frames="1-5", width=64,
                                height=48)
    agent = setup.agent(job_dir, job_id, "node-1")
    assert agent.wait() == 0, agent.output()
    assert rendering_lines(agent) == ["frame 1", "frames 2-5", "frames 3-5"]
    frames = api.frames(job_id)
    assert [frames[n]["state"] for n in range(1, 6)] == ["done", "done", "failed", "pending",
                                                        "pending"]
    assert [frames[n]["attempts"] for n in range(1, 6)] == [0, 0, 2, 0, 0]
    assert "frame 3 is broken" in frames[3]["error"]
    assert api.job(job_id)["state"] == "failed"
    # The agent hands the rest of the chunk back after the first failure; after the
    # second the job has failed, which revoked the agent's token and handed them back.
    released = [(e["frame"], e["reason"]) for e in api.events(job_id)
                if (e["from"], e["to"]) == ("leased", "pending") and e["frame"] != 3]
    assert released == [(4, "released by the agent"), (5, "released by the agent"),
                        (4, "the job is failed"), (5, "the job is failed")]
    assert sorted(p.name for p in (job_dir / "frames").iterdir()) == [
        "frame_00001.png", "frame_00002.png"]


def test_render_slots_render_chunks_side_by_side_each_frame_once(setup):
    api = setup.start_api()
    job_id, job_dir = setup.job(frames="1-12", width=160, height=120,
                                options={"antialias": True, "antialias_threshold": 0.0})
    agent = setup.agent(job_dir, job_id, "node-1", "--slots", "2")
    assert agent.wait() == 0, agent.output()
    output = agent.output()
    assert "2 render slot(s) of 1 thread(s)" in output
    # Both slots began before either had a frame to report.
    first_report = output.index("completion of frame")
    assert output.index("rendering frame 1:") < first_report
    assert output.index("rendering frame 2:") < first_report
    claimed = sorted(frame for frame, _, _ in claims_in(output))
    assert claimed == list(range(1, 13))
    frames = api.frames(job_id)
    assert all(frames[n]["state"] == "done" and frames[n]["attempts"] == 0 for n in frames)
    assert sorted(p.name for p in (job_dir / "frames").iterdir()) == [
        "frame_%05d.png" % n for n in range(1, 13)]


def test_the_apis_chunk_ceiling_holds_above_fifty(setup):
    """raycrafter:api:max_chunk_frames is the ceiling of a chunk: an agent started without
    a cap of its own asks for as many frames as the protocol allows, so the API's setting
    takes effect above the 50 the agent once capped every claim at by itself."""
    setup.start_api(max_chunk_frames=80, chunk_target_seconds=600)
    job_id, job_dir = setup.job(frames="1-120", width=8, height=6)
    agent = setup.agent(job_dir, job_id, "node-1")
    assert agent.wait() == 0, agent.output()
    assert rendering_lines(agent) == ["frame 1", "frames 2-81", "frames 82-120"]
    assert [frame for frame, _, _ in claims_in(agent.output())] == list(range(1, 121))
