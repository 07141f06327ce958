"""Many agents claiming at once never get the same frame, and the job is rendered exactly
once (real HTTP against waitress, in one process or two)."""
import collections
import concurrent.futures

import pytest

from raycrafter_api.database import db
from raycrafter_api.database.models import Command
from support.api_server import ApiServer, create_user, ensure_worker_token, write_config
from support.api_testing import PNG, Client, World, job_fields, scene_upload, sha256

AGENTS = 32
FRAMES = 160


# One frame per claim, and chunks: their frames are completed one by one, each completion
# deciding whether it was the one that left nothing to render; by one API process, and by
# two sharing the port as the appliance runs them.
@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("max_frames", [1, 8])
def test_concurrent_claims_never_hand_out_a_frame_twice(tmp_path, database_url, max_frames,
                                                        processes):
    config = write_config(tmp_path / "api.toml", database_url=database_url,
                          data_dir=str(tmp_path / "data"), max_frames_per_job=FRAMES)
    with ApiServer(config, threads=16, processes=processes) as api:
        alice = Client(api.url, create_user(config, "alice"))
        job = alice.post("/jobs", files=scene_upload(),
                         data=job_fields(frames=f"1-{FRAMES}")).json()
        world = World.__new__(World)
        world.worker = Client(api.url, ensure_worker_token(config))
        agent_token = World.submit(world, job["id"])

        def agent(number):
            client = Client(api.url, agent_token)
            rendered = []
            while True:
                answer = client.post(f"/agent/jobs/{job['id']}/claim",
                                     json={"holder": f"nid{number:03d}",
                                           "max_frames": max_frames}).json()
                assert "status" in answer, answer
                if answer["status"] != "leased":
                    client.close()
                    return rendered, answer["status"]
                for frame in answer["frames"]:
                    done = client.post(f"/agent/jobs/{job['id']}/frames/{frame}/complete",
                                       json={"lease_id": answer["lease"]["id"],
                                             "render_seconds": 0.1, "checksum": sha256(PNG),
                                             "size": len(PNG)})
                    assert done.status_code == 200, done.text
                    rendered.append(frame)

        with concurrent.futures.ThreadPoolExecutor(AGENTS) as pool:
            results = list(pool.map(agent, range(AGENTS)))

        claims = collections.Counter(frame for rendered, _ in results for frame in rendered)
        assert sorted(claims) == list(range(1, FRAMES + 1))
        assert max(claims.values()) == 1
        assert {status for _, status in results} <= {"finished", "wait"}
        final = alice.get(f"/jobs/{job['id']}").json()
        assert final["state"] == "collecting" and final["progress"]["done"] == FRAMES
        alice.close()
        world.worker.close()
    with db.connection():
        assert Command.select().where(Command.job == job["id"],
                                      Command.command == "collect").count() == 1
