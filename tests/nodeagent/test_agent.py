"""The node agent against the real API, the real POV-Ray and a real GELF receiver."""

import collections
import hashlib
import re
import signal
import time

from support.polling import wait_for

from .conftest import BATCH_JOB_ID, SLOW, claims_in, png_size, running


def claimed_frames(agent):
    return [frame for frame, _, _ in claims_in(agent.output())]


def leased_events(api, job_id):
    return collections.Counter(e["frame"] for e in api.events(job_id) if e["to"] == "leased")


def test_two_agents_render_each_frame_of_a_job_exactly_once(setup, node_name):
    # A short lease: an agent finding the last frame leased elsewhere waits until that
    # lease could expire before it asks again (the API's retry_after).
    api = setup.start_api(lease_seconds=5)
    receiver = setup.start_receiver()
    job_id, job_dir = setup.job(frames="1-6", width=64, height=48)

    agents = [setup.agent(job_dir, job_id, "node-%d" % i, log=True) for i in (1, 2)]

    for agent in agents:
        assert agent.wait() == 0, agent.output()
    claims = claimed_frames(agents[0]) + claimed_frames(agents[1])
    assert sorted(claims) == [1, 2, 3, 4, 5, 6]
    assert leased_events(api, job_id) == {n: 1 for n in range(1, 7)}
    assert api.job(job_id)["state"] == "collecting"

    frames = api.frames(job_id)
    checksums = set()
    for number in range(1, 7):
        image = job_dir / "frames" / ("frame_%05d.png" % number)
        assert png_size(image) == (64, 48)
        assert frames[number]["state"] == "done"
        assert frames[number]["attempts"] == 0
        assert frames[number]["checksum"] == hashlib.sha256(image.read_bytes()).hexdigest()
        assert frames[number]["size"] == image.stat().st_size
        checksums.add(frames[number]["checksum"])
    assert len(checksums) == 6, "the sphere moves: every frame is a different image"
    assert sorted(p.name for p in (job_dir / "frames").iterdir()) == [
        "frame_%05d.png" % n for n in range(1, 7)]

    # Every record carries the job, node and batch job; frame work also frame, attempt, lease.
    records = receiver.wait_for(
        lambda rs: sum("exits with status 0" in r["short_message"] for r in rs) == 2)
    leases = {frame: lease for agent in agents
              for frame, attempt, lease in claims_in(agent.output()) if attempt == 1}
    for record in records:
        assert record["_job_id"] == str(job_id)
        assert record["_node"] == record["host"] == node_name
        assert record["_batch_job_id"] == BATCH_JOB_ID
        assert record["level"] in ("3", "4", "6")
        if "_frame" in record:
            assert record["_attempt"] == "1"
            assert record["_lease_id"] == leases[int(record["_frame"])]
    renderer_records = [r for r in records if r["facility"] == "raycrafter_nodeagent.renderer"]
    assert {int(r["_frame"]) for r in renderer_records} == set(range(1, 7))
    assert any("POV-Ray finished" in r["short_message"] for r in renderer_records)


def test_a_scene_that_does_not_parse_fails_its_frame_and_then_the_job(setup):
    api = setup.start_api(max_attempts=2)
    job_id, job_dir = setup.job(scene="broken.pov", frames="1-3")

    agent = setup.agent(job_dir, job_id, "node-1")

    assert agent.wait() == 0, agent.output()
    frame = api.frames(job_id)[1]
    assert frame["state"] == "failed"
    assert frame["attempts"] == 2
    assert "Parse Error" in frame["error"] and "colr" in frame["error"]
    assert "Parse Error" in api.frame_log(job_id, 1)
    job = api.job(job_id)
    assert job["state"] == "failed"
    assert "frame 1 failed 2 times" in job["error"]
    assert claimed_frames(agent) == [1, 1]
    assert list((job_dir / "frames").iterdir()) == []


def test_a_frame_of_an_agent_killed_mid_render_is_rendered_by_another_after_its_lease_expires(setup):
    api = setup.start_api(lease_seconds=3)
    job_id, job_dir = setup.job(frames="1", **SLOW)
    doomed = setup.agent(job_dir, job_id, "node-doomed")
    doomed.wait_for_output("rendering frame 1")
    wait_for(doomed.renderer_pids, timeout=10, message="the renderer to start")
    setup.orphans += doomed.renderer_pids()

    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait()
    assert api.frames(job_id)[1]["state"] == "leased"
    survivor = setup.agent(job_dir, job_id, "node-survivor")

    assert survivor.wait() == 0, survivor.output()
    assert "claimed frame 1, attempt 2" in survivor.output()
    frame = api.frames(job_id)[1]
    assert frame["state"] == "done" and frame["attempts"] == 1
    assert any(e["to"] == "pending" and "lease expired" in (e["reason"] or "")
               and "node-doomed" in e["reason"] for e in api.events(job_id))
    assert png_size(job_dir / "frames" / "frame_00001.png") == (SLOW["width"], SLOW["height"])


def test_sigterm_stops_the_renderer_and_hands_the_frame_back_at_once(setup):
    api = setup.start_api(lease_seconds=120)
    job_id, job_dir = setup.job(frames="1-2", **SLOW)
    agent = setup.agent(job_dir, job_id, "node-1")
    agent.wait_for_output("rendering frame 1")
    renderers = wait_for(agent.renderer_pids, timeout=10, message="the renderer to start")

    agent.process.send_signal(signal.SIGTERM)

    assert agent.wait(timeout=15) == 75, agent.output()
    frames = api.frames(job_id)
    assert frames[1]["state"] == "pending"
    assert frames[1]["attempts"] == 0
    assert frames[1]["holder"] is None
    assert any(e["frame"] == 1 and e["reason"] == "released by the agent"
               for e in api.events(job_id))
    for pid in renderers:
        assert not running(pid), "the renderer was left running"
    assert "SIGTERM received: renderer stopped, handing frame 1 back" in agent.output()
    assert not (job_dir / "frames" / "frame_00001.png").exists()


def test_a_frame_finished_while_the_api_is_down_is_reported_when_it_is_back(setup, monkeypatch):
    api = setup.start_api(lease_seconds=60)
    job_id, job_dir = setup.job(frames="1", **SLOW)
    agent = setup.agent(job_dir, job_id, "node-1")
    agent.wait_for_output("rendering frame 1")

    api.stop()
    down_since = time.monotonic()
    # The image waits in its work directory until the API says the lease still holds it.
    agent.wait_for_output("keeping the result and asking again", timeout=30)
    time.sleep(max(0.0, 10 - (time.monotonic() - down_since)))
    api.restart_on_same_port(monkeypatch)

    assert agent.wait() == 0, agent.output()
    image = job_dir / "frames" / "frame_00001.png"
    frame = api.frames(job_id)[1]
    assert frame["state"] == "done" and frame["attempts"] == 0
    assert frame["checksum"] == hashlib.sha256(image.read_bytes()).hexdigest()
    assert api.job(job_id)["state"] == "collecting"


def test_records_logged_while_the_log_server_is_down_arrive_when_it_is_back(setup):
    api = setup.start_api()
    receiver = setup.start_receiver()
    job_id, job_dir = setup.job(frames="1-2", **SLOW)
    agent = setup.agent(job_dir, job_id, "node-1", log=True)
    # POV-Ray prints nothing between "[Rendering...]" and the end of the frame, so once
    # that line arrived nothing is in flight when the server goes away.
    receiver.wait_for(lambda rs: any("[Rendering...]" in r["short_message"] for r in rs))
    received_before = len(receiver.records())

    receiver.stop()
    down_since = time.monotonic()
    agent.wait_for_output("frame 1 rendered in", timeout=60)
    time.sleep(max(0.0, 10 - (time.monotonic() - down_since)))
    receiver.start()

    assert agent.wait() == 0, agent.output()
    summary = re.search(r"log shipping: (\d+) records queued, (\d+) sent, (\d+) dropped, "
                        r"(\d+) unsent", agent.output())
    queued, sent, dropped, unsent = map(int, summary.groups())
    assert (sent, dropped, unsent) == (queued, 0, 0)
    records = receiver.records()
    assert sorted(int(r["_seq"]) for r in records) == list(range(1, queued + 1))
    assert queued > received_before
    assert all(f["state"] == "done" for f in api.frames(job_id).values())
    assert any(r["short_message"].startswith("frame 1 rendered in") for r in records)


def test_without_a_log_credential_records_stay_on_stderr_and_frames_are_rendered(setup):
    """The worker writes none when the API holds no key of the log server's: the log server
    would refuse every record, so the agent sends none and says so once."""
    api = setup.start_api()
    receiver = setup.start_receiver()
    job_id, job_dir = setup.job(frames="1")
    (job_dir / "log.credential").unlink()

    agent = setup.agent(job_dir, job_id, "node-1", log=True)

    assert agent.wait() == 0, agent.output()
    assert api.frames(job_id)[1]["state"] == "done"
    output = agent.output()
    assert output.count("warning: no log credential in %s: the log server takes no record "
                        "without one, so they go to stderr only"
                        % (job_dir / "log.credential")) == 1
    assert "frame 1 rendered in" in output and "log shipping:" not in output
    time.sleep(1)  # the log server reports what it refused every half second
    assert "without a valid log credential" not in receiver.output()
    assert receiver.records() == []


def test_dry_run_claims_a_frame_reports_the_command_and_hands_the_frame_back(setup):
    api = setup.start_api()
    job_id, job_dir = setup.job(frames="1-2", options={"quality": 9})

    agent = setup.agent(job_dir, job_id, "node-1", "--dry-run")

    assert agent.wait() == 0, agent.output()
    assert "dry run: would run povray +I" in agent.output()
    assert "+WT1 +L" in agent.output()
    assert "+KFI1 +KFF2 +KI0.0 +KF1.0 -KC +SF1 +EF1 +Q9" in agent.output()
    assert {f["state"] for f in api.frames(job_id).values()} == {"pending"}
    assert list((job_dir / "frames").iterdir()) == []


def test_once_renders_a_single_frame(setup):
    api = setup.start_api()
    job_id, job_dir = setup.job(frames="1-3")

    agent = setup.agent(job_dir, job_id, "node-1", "--once")

    assert agent.wait() == 0, agent.output()
    assert [f["state"] for _, f in sorted(api.frames(job_id).items())] == [
        "done", "pending", "pending"]
    assert png_size(job_dir / "frames" / "frame_00001.png") == (64, 48)
    # A render time is known now, so a claim could lease a chunk: --once asks for one frame.
    again = setup.agent(job_dir, job_id, "node-2", "--once")
    assert again.wait() == 0, again.output()
    assert [f["state"] for _, f in sorted(api.frames(job_id).items())] == [
        "done", "done", "pending"]
