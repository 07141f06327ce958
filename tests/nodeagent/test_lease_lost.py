"""A lease that goes away while its frame renders: the heartbeat is refused and the agent
must stop the renderer at once, report nothing for that lease, and carry on (docs step 3).

Both refusals are covered: ``token_revoked`` (the job was cancelled, which revoked the
agent's token; the next claim is refused the same way and the agent exits 0) and
``stale_lease`` (the lease expired and another node holds the frame; the agent goes back
to claiming).
"""

import hashlib
import json
import signal
import sys

from support.polling import wait_for

from .conftest import FLAT_PNG_RENDERER, SLOW, SLOWER, running


def frame_events(api, job_id, number):
    return [(e["actor"], e["to"], e["reason"]) for e in api.events(job_id)
            if e["frame"] == number]


def wait_until_gone(pids, timeout):
    wait_for(lambda: not any(running(pid) for pid in pids), timeout=timeout, interval=0.1,
             message="renderer processes %s to end" % pids)


def test_cancelling_the_job_mid_render_stops_povray_and_the_agent_exits(setup):
    api = setup.start_api(lease_seconds=6)  # a heartbeat every 2 s
    job_id, job_dir = setup.job(frames="1-2", **SLOWER)
    agent = setup.agent(job_dir, job_id, "node-1")
    agent.wait_for_output("rendering frame 1")
    renderers = wait_for(agent.renderer_pids, timeout=10, message="the renderer to start")
    setup.orphans += renderers

    api.cancel(job_id)

    # The frame takes about a minute: stopped within a heartbeat or two, it was cut short.
    wait_until_gone(renderers, timeout=15)
    assert agent.wait(timeout=15) == 0, agent.output()
    output = agent.output()
    assert "povray: received signal SIGTERM" in output
    # Cancelling the job revoked the agent's token: its next heartbeat learns the job ended.
    assert "frame 1 abandoned, renderer stopped: token_revoked: this agent token was " \
           "revoked" in output
    assert "the API has no frame for this agent any more: token_revoked" in output
    assert "no frame left for this agent" in output
    assert "claimed frame 2" not in output
    assert "the API refused" not in output  # no result was even tried
    assert frame_events(api, job_id, 1) == [("agent:node-1", "leased", None),
                                            ("user:alice", "pending", "the job is cancelled")]
    assert api.frame_log(job_id, 1) == ""
    assert api.job(job_id)["state"] == "cancelled"
    assert list((job_dir / "frames").iterdir()) == []


def test_a_lease_lost_to_another_node_stops_the_renderer_with_its_children(setup):
    api = setup.start_api(lease_seconds=4)
    job_id, job_dir = setup.job(frames="1", renderer="wrapped")
    # A wrapper that runs the real work as its child, as renderer launch scripts do; the
    # whole frame would take five minutes.
    template = [sys.executable, str(FLAT_PNG_RENDERER), "{output}", "{width}", "{height}",
                "--child-sleep=300"]
    agent = setup.agent(job_dir, job_id, "node-1",
                        "--renderer-command", "wrapped=" + json.dumps(template))
    agent.wait_for_output("rendering frame 1")
    renderers = wait_for(lambda: len(agent.renderer_tree()) == 2 and agent.renderer_tree(),
                         timeout=10, message="the wrapper and its child to start")
    setup.orphans += renderers
    token = (job_dir / "agent.token").read_text().strip()

    def claim_as_node_2():
        answer = api.call("POST", "/agent/jobs/%d/claim" % job_id, token, {"holder": "node-2"})
        return answer if answer["status"] == "leased" else None

    # The agent hangs past its lease (renderer still running) and node-2 gets the frame.
    agent.process.send_signal(signal.SIGSTOP)
    try:
        lease = wait_for(claim_as_node_2, timeout=20, interval=0.5,
                         message="the lease of node-1 to expire")
        rendering_when_lost = all(running(pid) for pid in renderers)
    finally:
        agent.process.send_signal(signal.SIGCONT)
    assert rendering_when_lost

    wait_until_gone(renderers, timeout=10)
    agent.wait_for_output("frame 1 abandoned, renderer stopped: stale_lease")
    image = b"the image node-2 rendered"
    api.call("POST", "/agent/jobs/%d/frames/1/complete" % job_id, token,
             {"lease_id": lease["lease"]["id"], "render_seconds": 1.0, "size": len(image),
              "checksum": hashlib.sha256(image).hexdigest(), "log_tail": "node-2 did it"})

    assert agent.wait(timeout=30) == 0, agent.output()
    assert (lease["frame"], lease["attempt"]) == (1, 2)
    # node-1 reported nothing: every event after its claim is the expiry or node-2's.
    assert frame_events(api, job_id, 1) == [
        ("agent:node-1", "leased", None),
        ("system", "pending", "lease expired: node-1 stopped sending heartbeats"),
        ("agent:node-2", "leased", None),
        ("agent:node-2", "done", None)]
    assert api.frame_log(job_id, 1) == "node-2 did it"
    output = agent.output()
    assert "the API refused" not in output  # no result was even tried
    assert "job %d is finished: no frame left for this agent" % job_id in output
    assert list((job_dir / "frames").iterdir()) == []


def test_a_frame_whose_lease_was_handed_back_meanwhile_is_neither_placed_nor_reported(setup):
    # A long lease: the keeper's next heartbeat is 20 s away when the frame is done.
    api = setup.start_api(lease_seconds=60)
    job_id, job_dir = setup.job(frames="1", **SLOW)
    agent = setup.agent(job_dir, job_id, "node-1")
    agent.wait_for_output("rendering frame 1")
    setup.orphans += wait_for(agent.renderer_pids, timeout=10, message="the renderer")

    # The worker saw the batch job end: the API hands the frame back for a new attempt.
    api.call("POST", "/worker/jobs/%d/batch-ended" % job_id, api.worker_token,
             {"attempt": 1, "reason": "lost"})
    assert api.frames(job_id)[1]["state"] == "pending"

    agent.wait_for_output("frame 1 is not placed", timeout=60)
    assert list((job_dir / "frames").iterdir()) == []
    assert "completion of frame 1" not in agent.output()
    assert [to for _, to, _ in frame_events(api, job_id, 1)] == ["leased", "pending"]
