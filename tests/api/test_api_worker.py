"""Worker endpoints: listing, input, submissions, transitions, image uploads."""
import os

from raycrafter_api.database import db
from raycrafter_api.database.models import Token
from support.api_testing import PNG, SCENE, assert_error, sha256


def test_list_by_cluster_and_states(world):
    other = world.create_job(world.alice, cluster="archer")
    listing = world.worker.get("/worker/jobs", params={"cluster": "default",
                                                        "state": ["submitted", "pending"]})
    ids = [j["id"] for j in listing.json()["jobs"]]
    assert ids == [world.job_x["id"], world.job_y["id"]]
    archer = world.worker.get("/worker/jobs?cluster=archer&state=pending").json()["jobs"]
    assert [j["id"] for j in archer] == [other["id"]]
    full = archer[0]
    assert full["cluster"] == "archer" and full["submit_attempt"] == 0
    assert full["batch_name"] is None and full["batch_job_id"] is None
    assert_error(world.worker.get("/worker/jobs?state=bogus"), 400, "invalid_field", "state")


def test_get_job_full_and_input(world):
    job_id = world.job_x["id"]
    full = world.worker.get(f"/worker/jobs/{job_id}").json()
    assert full["submit_attempt"] == 1 and full["batch_name"] == f"rc-{job_id}-a1"
    assert full["batch_job_id"] == str(1000 + job_id) and full["state"] == "submitted"
    response = world.worker.get(f"/worker/jobs/{job_id}/input")
    assert response.content == SCENE
    assert response.headers["X-Scene-Kind"] == "pov"
    assert response.headers["X-Checksum-Sha256"] == sha256(SCENE)
    assert_error(world.worker.get("/worker/jobs/424242"), 404)
    assert_error(world.worker.get("/worker/jobs/424242/input"), 404)


def test_submission_is_recorded_before_submitting_with_a_fresh_agent_token(world):
    job = world.create_job(world.alice)
    job_id = job["id"]
    assert_error(world.worker.post(f"/worker/jobs/{job_id}/submissions", json={}), 409,
                 "illegal_transition")
    world.transition(job_id, "staging")
    assert_error(world.worker.post(f"/worker/jobs/{job_id}/transition",
                                   json={"to": "submitted", "batch_job_id": "77"}), 409,
                 "no_submission")
    first = world.worker.post(f"/worker/jobs/{job_id}/submissions", json={}).json()
    assert first["attempt"] == 1 and first["batch_name"] == f"rc-{job_id}-a1"
    assert first["resumed"] is False
    assert "log_credential" not in first  # this API holds no key of the log server's
    # Not reported submitted yet: the same attempt again (a restarted or second worker),
    # with a token of its own; no attempt is spent.
    again = world.worker.post(f"/worker/jobs/{job_id}/submissions", json={}).json()
    assert (again["attempt"], again["resumed"]) == (1, True)
    assert again["agent_token"] != first["agent_token"]
    world.transition(job_id, "submitted", batch_job_id="77")
    world.batch_ended(job_id, 1, batch_job_id="77")
    second = world.worker.post(f"/worker/jobs/{job_id}/submissions", json={}).json()
    assert (second["attempt"], second["resumed"]) == (2, False)
    world.transition(job_id, "submitted", batch_job_id="78")
    world.batch_ended(job_id, 2, batch_job_id="78")
    assert world.job(job_id)["state"] == "failed"  # max_submissions = 2 in these tests
    with db.connection():
        stored = [t.token_hash for t in Token.select().where(Token.job == job_id)]
    assert len(stored) == 3 and first["agent_token"] not in stored


def test_transitions_follow_the_state_machine(world):
    job_id = world.job_x["id"]
    same = world.transition(job_id, "submitted", batch_job_id=str(1000 + job_id))
    assert same["state"] == "submitted"
    body = assert_error(world.worker.post(f"/worker/jobs/{job_id}/transition",
                                          json={"to": "pending"}), 400, "invalid_field", "to")
    assert "staging" in body["message"]
    assert_error(world.worker.post(f"/worker/jobs/{job_id}/transition", json={"to": "done"}),
                 409, "illegal_transition")
    assert_error(world.worker.post(f"/worker/jobs/{job_id}/transition",
                                   json={"to": "submitted"}), 400, "invalid_field",
                 "batch_job_id")
    assert_error(world.worker.post(f"/worker/jobs/{job_id}/transition", json={"to": "failed"}),
                 400, "invalid_field", "reason")
    assert_error(world.worker.post(f"/worker/jobs/{job_id}/transition",
                                   json={"to": "running", "batch_job_id": 5}), 400,
                 "invalid_field", "batch_job_id")
    assert world.transition(job_id, "running")["state"] == "running"
    failed = world.transition(job_id, "failed", reason="sbatch: invalid account")
    assert failed["state"] == "failed" and failed["error"] == "sbatch: invalid account"
    assert_error(world.worker.post(f"/worker/jobs/{job_id}/transition",
                                   json={"to": "staging"}), 409, "illegal_transition")
    assert_error(world.worker.post("/worker/jobs/999999/transition", json={"to": "staging"}),
                 404)


def test_image_upload_checks_checksum_state_and_content(world, api):
    job_id = world.job_x["id"]
    headers = {"Content-Type": "image/png", "X-Checksum-Sha256": sha256(PNG)}
    url = f"/worker/jobs/{job_id}/frames/1/image"
    assert_error(world.worker.put(url, data=PNG, headers=headers), 409, "frame_not_done")
    claim = world.claim(world.agent_x, job_id)
    world.complete(world.agent_x, job_id, claim)
    assert_error(world.worker.put(url, data=PNG, headers={**headers, "X-Checksum-Sha256":
                                                          sha256(b"other")}),
                 400, "checksum_mismatch")
    other = b"\x89PNG\r\n\x1a\nsomething else"
    assert_error(world.worker.put(url, data=other, headers={**headers,
                                                            "X-Checksum-Sha256": sha256(other)}),
                 400, "checksum_mismatch")
    assert_error(world.worker.put(url, data=PNG, headers={"Content-Type": "image/jpeg",
                                                          "X-Checksum-Sha256": sha256(PNG)}),
                 415)
    assert_error(world.worker.put(url, data=PNG, headers={"Content-Type": "image/png"}), 400,
                 "invalid_field", "X-Checksum-Sha256")
    response = world.worker.put(url, data=PNG, headers=headers)
    assert response.status_code == 201
    stored = os.path.join(api.config.data_dir, "jobs", str(job_id), "frames", "frame_00001.png")
    with open(stored, "rb") as f:
        assert f.read() == PNG
    assert os.listdir(os.path.join(api.config.data_dir, "tmp")) == []
    assert_error(world.worker.put(f"/worker/jobs/{job_id}/frames/77/image", data=PNG,
                                  headers=headers), 404)


def test_done_needs_every_image(world):
    job_id = world.job_x["id"]
    for _ in range(3):
        world.complete(world.agent_x, job_id, world.claim(world.agent_x, job_id))
    body = assert_error(world.worker.post(f"/worker/jobs/{job_id}/transition",
                                          json={"to": "done"}), 409, "images_missing")
    assert body["details"]["frames"] == [1, 2, 3]


def test_a_png_that_is_not_a_png_is_refused(world):
    job_id = world.job_x["id"]
    fake = b"GIF89a not a png"
    claim = world.claim(world.agent_x, job_id)
    world.complete(world.agent_x, job_id, claim, image=fake)
    assert_error(world.worker.put(f"/worker/jobs/{job_id}/frames/{claim['frame']}/image",
                                  data=fake, headers={"Content-Type": "image/png",
                                                      "X-Checksum-Sha256": sha256(fake)}),
                 400, "not_png")


def test_uncollected_lists_frames_rendered_and_not_uploaded_until_uploaded(world):
    job_id = world.job_x["id"]
    url = f"/worker/jobs/{job_id}/frames/uncollected"
    assert world.worker.get(url).json() == {"frames": [], "total": 0}
    for _ in range(2):  # frames 1 and 2 rendered, frame 3 still pending
        world.complete(world.agent_x, job_id, world.claim(world.agent_x, job_id))
    listed = world.worker.get(url).json()
    assert listed == {"total": 2, "frames": [
        {"number": n, "checksum": sha256(PNG), "size": len(PNG)} for n in (1, 2)]}
    assert world.worker.get(url, params={"limit": 1}).json() == {
        "total": 2, "frames": listed["frames"][:1]}
    headers = {"Content-Type": "image/png", "X-Checksum-Sha256": sha256(PNG)}
    for _ in range(2):  # a frame uploaded twice stays collected, once
        response = world.worker.put(f"/worker/jobs/{job_id}/frames/1/image", data=PNG,
                                    headers=headers)
        assert response.status_code == 201, response.text
    assert world.worker.get(url).json() == {"total": 1, "frames": listed["frames"][1:]}
    assert_error(world.worker.get(url, params={"limit": 0}), 400, "invalid_field", "limit")
    assert_error(world.alice.get(url), 403)
    assert_error(world.worker.get("/worker/jobs/9999/frames/uncollected"), 404)


def test_an_api_without_the_log_credential_key_issues_no_service_credential(world):
    body = assert_error(world.worker.get("/worker/log-credential"), 404, "no_log_credentials")
    assert "no log credential key" in body["message"]
