"""What the dashboard asks of the API: revalidated answers (ETag, 304), the job list's
filters, thumbnails made once and kept beside the frame, an admin's users, tokens and
queue, who a token stands for, and its own files served with a Content-Security-Policy.
The frames' cursor is tested in test_api_frame_cursor.py."""
import io
import os

import pytest
from PIL import Image

from support.api_testing import PNG, assert_error, sha256

from raycrafter_contract.naming import frame_file_name


def png(width, height, colour):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def render_and_collect(world, job_id, agent, images):
    """Agents complete each frame with its image; the worker uploads them."""
    for number, image in images.items():
        claim = world.claim(agent, job_id)
        assert claim["frame"] == number
        assert world.complete(agent, job_id, claim, image=image).status_code == 200
        response = world.worker.put(f"/worker/jobs/{job_id}/frames/{number}/image", data=image,
                                    headers={"Content-Type": "image/png",
                                             "X-Checksum-Sha256": sha256(image)})
        assert response.status_code == 201, response.text


def test_a_job_and_the_list_answer_304_until_the_job_changes(world):
    alice, job_id = world.alice, world.job_x["id"]
    for path in (f"/jobs/{job_id}", "/jobs", f"/jobs/{job_id}/events"):
        first = alice.get(path)
        tag = first.headers["ETag"]
        again = alice.get(path, headers={"If-None-Match": tag})
        assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", tag)
        assert "private" in first.headers["Cache-Control"]
    tags = {path: alice.get(path).headers["ETag"] for path in (f"/jobs/{job_id}", "/jobs")}
    world.claim(world.agent_x, job_id)
    for path, tag in tags.items():
        changed = alice.get(path, headers={"If-None-Match": tag})
        assert changed.status_code == 200 and changed.headers["ETag"] != tag, path
    # Another user's view of the list is another body, so never the same tag.
    assert world.bob.get("/jobs").headers["ETag"] != alice.get("/jobs").headers["ETag"]


def test_the_list_filters_by_name_and_owner(world):
    world.create_job(world.alice, name="Orbit 100%")
    world.create_job(world.alice, name="orbit_b")
    world.create_job(world.bob, name="orbit of bob")

    def names(client, **params):
        return [job["name"] for job in client.get("/jobs", params=params).json()["jobs"]]

    assert names(world.alice, name="ORBIT") == ["orbit_b", "Orbit 100%"]
    # % and _ are letters here, not SQL's wildcards.
    assert names(world.alice, name="100%") == ["Orbit 100%"]
    assert names(world.alice, name="t_b") == ["orbit_b"]
    assert names(world.root, name="orbit", owner="bob") == ["orbit of bob"]
    assert names(world.root, name="orbit") == ["orbit of bob", "orbit_b", "Orbit 100%"]
    # A user's filter never reaches past their own jobs.
    assert names(world.alice, owner="bob") == []
    for field, value in (("name", "a\x00b"), ("owner", "x" * 201), ("name", "tab\there")):
        assert_error(world.alice.get("/jobs", params={field: value}), 400, field=field)


def test_a_thumbnail_is_made_once_beside_the_frame_and_keeps_the_aspect(world, api):
    job_id = world.job_x["id"]
    images = {1: png(640, 480, (200, 30, 30)), 2: png(100, 50, (30, 200, 30))}
    render_and_collect(world, job_id, world.agent_x, images)
    first = world.alice.get(f"/jobs/{job_id}/frames/1/thumbnail")
    assert first.status_code == 200 and first.headers["Content-Type"] == "image/png"
    thumbnail = Image.open(io.BytesIO(first.content))
    assert thumbnail.size == (320, 240)
    assert thumbnail.convert("RGB").getpixel((160, 120)) == (200, 30, 30)
    small = Image.open(io.BytesIO(world.alice.get(f"/jobs/{job_id}/frames/2/thumbnail").content))
    assert small.size == (100, 50)  # never made larger

    frames_dir = os.path.join(api.config.data_dir, "jobs", str(job_id), "frames")
    kept = os.path.join(frames_dir, frame_file_name(1).replace(".png", ".thumbnail.png"))
    made = os.stat(kept).st_mtime_ns
    assert world.alice.get(f"/jobs/{job_id}/frames/1/thumbnail").content == first.content
    assert os.stat(kept).st_mtime_ns == made
    # The archive holds the frames only, not their thumbnails.
    assert sorted(n for n in os.listdir(frames_dir) if not n.startswith(".")) == sorted(
        [frame_file_name(1), frame_file_name(2), os.path.basename(kept),
         frame_file_name(2).replace(".png", ".thumbnail.png")])

    assert_error(world.alice.get(f"/jobs/{job_id}/frames/3/thumbnail"), 404,
                 "image_not_available")
    assert_error(world.bob.get(f"/jobs/{job_id}/frames/1/thumbnail"), 404)


def test_a_frame_image_that_does_not_decode_has_no_thumbnail(world):
    job_id = world.job_x["id"]
    render_and_collect(world, job_id, world.agent_x, {1: PNG})
    assert_error(world.alice.get(f"/jobs/{job_id}/frames/1/thumbnail"), 404,
                 "thumbnail_not_available")
    assert world.alice.get(f"/jobs/{job_id}/frames/1").content == PNG


def test_who_a_token_stands_for(world):
    assert world.alice.get("/me").json() == {"name": "alice", "role": "user"}
    assert world.root.get("/me").json() == {"name": "root", "role": "admin"}
    assert_error(world.worker.get("/me"), 403)
    assert_error(world.anonymous.get("/me"), 401)


def test_an_admin_adds_users_issues_and_revokes_tokens(world, api):
    created = world.root.post("/admin/users", json={"name": "carol", "role": "user"})
    assert created.status_code == 201, created.text
    carol = api.client(created.json()["token"])
    assert carol.get("/me").json() == {"name": "carol", "role": "user"}
    user_id = created.json()["user"]["id"]

    issued = world.root.post(f"/admin/users/{user_id}/tokens")
    assert issued.status_code == 201 and issued.json()["user"] == "carol"
    second = api.client(issued.json()["token"])
    assert second.get("/me").status_code == 200

    tokens = world.root.get("/admin/tokens").json()["tokens"]
    carols = [t for t in tokens if t["user"] == "carol"]
    assert len(carols) == 2 and all(t["revoked_at"] is None for t in carols)
    assert all("hash" not in key for t in tokens for key in t)
    newest = carols[0]
    assert issued.json()["token"].startswith(newest["prefix"])
    revoked = world.root.post(f"/admin/tokens/{newest['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert_error(second.get("/me"), 401)
    assert carol.get("/me").status_code == 200
    assert_error(world.root.post(f"/admin/tokens/{newest['id']}/revoke"), 409, "token_revoked")

    users = {u["name"]: u for u in world.root.get("/admin/users").json()["users"]}
    assert users["carol"]["active_tokens"] == 1 and users["root"]["role"] == "admin"
    assert_error(world.root.post("/admin/users", json={"name": "carol"}), 409, "user_exists")
    assert_error(world.root.post("/admin/users", json={"name": "-x"}), 400, field="name")
    assert_error(world.root.post("/admin/users", json={"name": "dave", "role": "god"}), 400,
                 field="role")
    assert_error(world.root.post("/admin/users/9999/tokens"), 404)


@pytest.mark.parametrize("method, path", [
    ("GET", "/admin/users"), ("POST", "/admin/users"), ("GET", "/admin/tokens"),
    ("POST", "/admin/users/1/tokens"), ("POST", "/admin/tokens/1/revoke"),
    ("GET", "/admin/queue")])
def test_only_an_admin_manages_users_tokens_and_sees_the_queue(world, method, path):
    assert_error(world.alice.request(method, path, json={"name": "mallory"}), 403)
    assert_error(world.worker.request(method, path, json={"name": "mallory"}), 403)
    assert_error(world.anonymous.request(method, path, json={"name": "mallory"}), 401)


def test_the_queue_shows_every_users_unfinished_jobs(world):
    world.alice.post(f"/jobs/{world.create_job(world.alice)['id']}/cancel")
    waiting = world.create_job(world.bob, cluster="archer")
    queue = world.root.get("/admin/queue").json()
    assert queue["clusters"] == {"default": {"submitted": 2}, "archer": {"pending": 1}}
    assert [(j["id"], j["owner"]) for j in queue["jobs"]] == [
        (world.job_x["id"], "alice"), (world.job_y["id"], "bob"), (waiting["id"], "bob")]
    assert queue["jobs"][0]["batch_job_id"] == str(1000 + world.job_x["id"])
    # Nothing relays commands in this test: every command written is still waiting.
    assert queue["unsent_commands"] >= 4 and queue["oldest_unsent_command_at"]


def test_the_dashboard_is_served_with_a_content_security_policy(world, api):
    origin = api.url.rsplit("/api/v1", 1)[0]
    page = world.anonymous.session.get(origin + "/dashboard/")
    assert page.status_code == 200 and "<title>Raycrafter</title>" in page.text
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<script>" not in page.text and " on" not in page.text.split("<body>")[1].split(">")[0]
    script = world.anonymous.session.get(origin + "/dashboard/dashboard.js")
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
    assert "Content-Security-Policy" in script.headers
    assert world.anonymous.session.get(origin + "/dashboard/../app.py").status_code == 404
    for address in ("/", "/dashboard"):
        moved = world.anonymous.session.get(origin + address, allow_redirects=False)
        assert moved.status_code == 302 and moved.headers["Location"].endswith("/dashboard/")


def test_only_an_admins_body_is_read_on_the_admins_routes(world):
    """nginx asks before it reads a body: a user's body for an admin's route stays unread."""
    def asks(client):
        return client.get("/sender-check",
                          headers={"X-Original-URI": "/api/v1/admin/users"}).status_code
    assert (asks(world.alice), asks(world.worker), asks(world.root)) == (403, 403, 204)
