"""Frames come in while the batch job runs: the poller brings in what the agents rendered,
and the end-of-job collect fetches only the rest.

Real API, real Slurm, the real node agent rendering with POV-Ray. The agent is started
through a wrapper that keeps the batch job running after the agent has finished, until the
test lets it go, so "while the batch job runs" does not depend on how fast this machine
renders.
"""
import hashlib
import io
import re
import shlex
import zipfile

from support.polling import wait_for
from support.worker_harness import publish
from test_worker_flow import (CLUSTER, api, batch_jobs, broker, in_state,  # noqa: F401
                              job_of, start_worker)

NODE_AGENT = "/opt/raycrafter/nodeagent/bin/raycrafter-nodeagent"
FRAMES = 6
# Frames after the second take seconds to parse, so the job is still rendering when the
# first frames are rendered and brought in.
SCENE = b"""#version 3.7;
#if (frame_number > 2)
  #local I = 0;
  #while (I < 2000000)
    #local I = I + 1;
  #end
#end
camera { location <0, 1, -4> look_at <0, 0.5, 0> }
light_source { <3, 5, -3> color rgb 1 }
sphere { <0, 0.5, 0>, 0.5 + clock * 0.2 pigment { color rgb <1, 0.4, 0.1> } }
plane { y, 0 pigment { checker color rgb 1 color rgb 0.2 } }
"""
HELD_AGENT = """#!/bin/bash
# The real node agent; the batch job then stays until the test removes the hold file.
NODE_AGENT "$@"
status=$?
while [ -e HOLD ]; do sleep 0.2; done
exit $status
"""


def frames_of(api, job_id):
    return api.user.get(f"{api.url}/jobs/{job_id}/frames").json()["frames"]


def test_frames_are_downloadable_while_the_batch_job_runs_and_end_complete_and_once(
        api, broker, start_worker, login, test_scratch, batch_prefix):  # noqa: F811
    hold = f"{test_scratch}/hold"
    wrapper = f"{test_scratch}/bin/held-agent"
    script = HELD_AGENT.replace("NODE_AGENT", NODE_AGENT).replace("HOLD", shlex.quote(hold))
    login(f"mkdir -p {test_scratch}/bin && touch {hold} && cat > {wrapper} <<'AGENT'\n"
          f"{script}AGENT\nchmod 0755 {wrapper}")
    worker = start_worker(nodeagent=wrapper, agent_api_url=api.base, setup=[])
    response = api.user.post(f"{api.url}/jobs", files={"scene": ("scene.pov", SCENE)},
                             data={"name": "frames while it runs", "frames": f"1-{FRAMES}",
                                   "width": "32", "height": "24"})
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    publish(broker.admin_url, "submit", job_id, CLUSTER)

    wait_for(lambda: any(f["image_available"] for f in frames_of(api, job_id)), timeout=120,
             interval=0.2, message="a frame's image available while the job renders")
    (batch,) = batch_jobs(login, batch_prefix)
    progress = job_of(api, job_id)["progress"]
    first = next(f["number"] for f in frames_of(api, job_id) if f["image_available"])
    image = api.user.get(f"{api.url}/jobs/{job_id}/frames/{first}")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert batch[2] == "RUNNING", batch
    assert progress["done"] < FRAMES, progress  # frames were still to be rendered

    # Every frame rendered; the last one moved the job to collecting, so no poll brought
    # it in: the end-of-job collect has it, and only what the polls left.
    wait_for(lambda: in_state(api, job_id, "collecting"), timeout=180,
             message="every frame rendered")
    login(f"rm -f {hold}")
    publish(broker.admin_url, "collect", job_id, CLUSTER)
    wait_for(lambda: in_state(api, job_id, "done"), timeout=120, message="the job done")
    (at_end,) = re.findall(rf"job {job_id}: collecting (\d+) frame", worker.log())
    assert 1 <= int(at_end) < FRAMES
    assert "brought in while their batch jobs run" in worker.log()

    frames_dir = f"{test_scratch}/raycrafter/{job_id}/frames"
    on_scratch = dict(line.split()[::-1] for line in login(
        f"cd {frames_dir} && sha256sum *.png").stdout.splitlines())
    archive = api.user.get(f"{api.url}/jobs/{job_id}/archive")
    assert archive.status_code == 200, archive.text
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        names = zipped.namelist()
        assert sorted(names) == [f"job-{job_id}/frame_{n:05d}.png"
                                 for n in range(1, FRAMES + 1)]  # each exactly once
        for name in names:
            data = zipped.read(name)
            assert hashlib.sha256(data).hexdigest() == on_scratch[name.split("/")[1]]
    assert all(f["image_available"] and f["state"] == "done" for f in frames_of(api, job_id))
