"""User endpoints: creating, listing, reading and cancelling jobs; events; errors."""
import io
import json
import zipfile

import pytest

from raycrafter_api.database import db
from raycrafter_api.database.models import Command, Event
from support.api_testing import SCENE, assert_error, job_fields, scene_upload, sha256, tar_gz


def commands_of(job_id):
    with db.connection():
        return [c.command for c in Command.select().where(Command.job == job_id)
                .order_by(Command.created_at)]


def test_create_job_from_a_pov_file(world):
    response = world.alice.post("/jobs", files=scene_upload("teapot.pov"),
                                data=job_fields(frames="1-100:5", options=json.dumps(
                                    {"antialias": True, "quality": 9})))
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["state"] == "pending"
    assert job["owner"] == "alice"
    assert job["frames"] == {"first": 1, "last": 96, "step": 5, "count": 20}
    assert job["progress"]["pending"] == 20
    assert job["renderer"] == "povray" and job["cluster"] == "default"
    assert job["options"] == {"antialias": True, "quality": 9}
    assert job["scene"] == {"kind": "pov", "size": len(SCENE), "checksum": sha256(SCENE)}
    assert commands_of(job["id"]) == ["submit"]
    events = world.alice.get(f"/jobs/{job['id']}/events").json()["events"]
    assert [(e["from"], e["to"], e["actor"]) for e in events] == [(None, "pending",
                                                                    "user:alice")]


def test_create_job_from_archives_with_assets(world):
    archive = tar_gz([("scene.pov", SCENE), ("textures/wood.png", b"png"),
                      ("./inc/colors.inc", b"#declare X=1;")])
    job = world.create_job(world.alice, files=scene_upload("s.tar.gz", archive),
                           cluster="archer", frames="7")
    assert job["scene"]["kind"] == "tar.gz" and job["cluster"] == "archer"
    assert job["frames"]["count"] == 1
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("scene.pov", SCENE)
        z.writestr("assets/", b"")
    job = world.create_job(world.alice, files=scene_upload("s.zip", buffer.getvalue()))
    assert job["scene"]["kind"] == "zip"
    response = world.worker.get(f"/worker/jobs/{job['id']}/input")
    assert response.content == buffer.getvalue()
    assert response.headers["X-Scene-Kind"] == "zip"
    assert response.headers["X-Checksum-Sha256"] == sha256(buffer.getvalue())


@pytest.mark.parametrize("fields, field", [
    ({"name": None}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"frames": "1-"}, "frames"),
    ({"frames": "5-1"}, "frames"),
    ({"frames": "1-10:0"}, "frames"),
    ({"frames": "1-100000"}, "frames"),
    # Digits of other scripts: Python's int() reads them, a frame file name never shows them.
    ({"frames": "\uff11-\uff12"}, "frames"),
    ({"frames": "\u0661-\u0662\u0664"}, "frames"),
    ({"width": "wide"}, "width"),
    ({"width": "0"}, "width"),
    ({"height": "20000"}, "height"),
    ({"renderer": "blender"}, "renderer"),
    ({"cluster": "nowhere"}, "cluster"),
    ({"options": "{not json"}, "options"),
    ({"options": "[1]"}, "options"),
    ({"options": '{"shell": "rm -rf /"}'}, "options.shell"),
    ({"options": '{"quality": 12}'}, "options.quality"),
    ({"options": '{"quality": 1.5}'}, "options.quality"),
    ({"options": '{"antialias": "yes"}'}, "options.antialias"),
])
def test_invalid_fields_are_named(world, fields, field):
    response = world.alice.post("/jobs", files=scene_upload(), data=job_fields(**fields))
    assert_error(response, 400, "invalid_field", field)


def test_scene_is_required_and_must_be_a_known_kind(world):
    assert_error(world.alice.post("/jobs", data=job_fields(), files={"other": ("a", b"x")}),
                 400, "invalid_field", "scene")
    assert_error(world.alice.post("/jobs", files=scene_upload("scene.exe"), data=job_fields()),
                 400, "invalid_field", "scene")


def test_archive_without_a_pov_file_at_its_top_is_refused(world):
    archive = tar_gz([("readme.txt", b"x"), ("a/other.pov", SCENE), ("b/more.pov", SCENE)])
    body = assert_error(world.alice.post("/jobs", files=scene_upload("a.tar.gz", archive),
                                         data=job_fields()), 400, "invalid_archive")
    assert "no .pov file at its top" in body["message"]
    assert_error(world.alice.post("/jobs", files=scene_upload("a.zip", b"not a zip"),
                                  data=job_fields()), 400, "invalid_archive")


def test_wrong_content_type_is_415(world):
    assert_error(world.alice.post("/jobs", json={"name": "x"}), 415, "unsupported_media_type")


@pytest.fixture
def config_values(config_values):
    return {**config_values, "max_upload_bytes": 4096, "max_frames_per_job": 50}


def test_oversize_upload_is_413(world):
    big = SCENE + b"//" + b"x" * 8000
    body = assert_error(world.alice.post("/jobs", files=scene_upload("big.pov", big),
                                         data=job_fields()), 413, "too_large")
    assert body["details"]["limit"] == 4096
    huge = b"x" * (2 * 1024 * 1024)
    assert_error(world.alice.post("/jobs", files=scene_upload("huge.pov", huge),
                                  data=job_fields()), 413, "too_large")


def test_too_many_frames_is_400(world):
    assert_error(world.alice.post("/jobs", files=scene_upload(), data=job_fields(frames="1-51")),
                 400, "invalid_field", "frames")


def test_list_own_jobs_admin_sees_all_with_filter_and_pages(world):
    for i in range(3):
        world.create_job(world.alice, name=f"extra {i}")
    mine = world.alice.get("/jobs").json()
    assert mine["total"] == 4 and {j["owner"] for j in mine["jobs"]} == {"alice"}
    assert [j["id"] for j in mine["jobs"]] == sorted((j["id"] for j in mine["jobs"]),
                                                     reverse=True)
    page = world.alice.get("/jobs", params={"limit": 3, "offset": 0}).json()
    assert len(page["jobs"]) == 3 and page["next_offset"] == 3
    rest = world.alice.get("/jobs", params={"limit": 3, "offset": 3}).json()
    assert len(rest["jobs"]) == 1 and rest["next_offset"] is None
    everyone = world.root.get("/jobs").json()
    assert everyone["total"] == 5
    submitted = world.root.get("/jobs", params={"state": "submitted"}).json()
    assert {j["id"] for j in submitted["jobs"]} == {world.job_x["id"], world.job_y["id"]}
    assert_error(world.alice.get("/jobs", params={"state": "sleeping"}), 400, "invalid_field",
                 "state")
    assert_error(world.alice.get("/jobs", params={"limit": "0"}), 400, "invalid_field", "limit")
    assert_error(world.alice.get("/jobs", params={"offset": "x"}), 400, "invalid_field",
                 "offset")


def test_get_job_and_another_users_job_is_404(world):
    job_id = world.job_x["id"]
    assert world.alice.get(f"/jobs/{job_id}").json()["state"] == "submitted"
    assert world.root.get(f"/jobs/{job_id}").status_code == 200
    assert_error(world.bob.get(f"/jobs/{job_id}"), 404, "not_found")
    assert_error(world.alice.get("/jobs/999999"), 404, "not_found")


def test_cancel_writes_event_and_cancel_command(world):
    job_id = world.job_x["id"]
    response = world.alice.post(f"/jobs/{job_id}/cancel")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    assert commands_of(job_id)[-1] == "cancel"
    last = world.alice.get(f"/jobs/{job_id}/events").json()["events"][-1]
    assert (last["from"], last["to"], last["actor"]) == ("submitted", "cancelled",
                                                          "user:alice")
    assert_error(world.alice.post(f"/jobs/{job_id}/cancel"), 409, "illegal_transition")
    assert_error(world.bob.post(f"/jobs/{world.job_x['id']}/cancel"), 404)


def test_admin_may_cancel_any_job(world):
    assert world.root.post(f"/jobs/{world.job_y['id']}/cancel").json()["state"] == "cancelled"


def test_events_record_every_state_change(world):
    job_id = world.job_x["id"]
    events = world.alice.get(f"/jobs/{job_id}/events").json()
    assert [(e["from"], e["to"]) for e in events["events"]] == [
        (None, "pending"), ("pending", "staging"), ("staging", "submitted")]
    assert all(e["at"].endswith("Z") for e in events["events"])
    page = world.alice.get(f"/jobs/{job_id}/events", params={"limit": 1, "offset": 1}).json()
    assert page["events"][0]["to"] == "staging" and page["next_offset"] == 2
    with db.connection():
        assert Event.select().where(Event.job == job_id).count() == 3


def test_frames_listing_image_log_and_archive(world):
    job_id = world.job_x["id"]
    frames = world.alice.get(f"/jobs/{job_id}/frames").json()
    assert [f["number"] for f in frames["frames"]] == [1, 2, 3]
    assert all(f["state"] == "pending" and not f["image_available"] for f in frames["frames"])
    assert_error(world.alice.get(f"/jobs/{job_id}/archive"), 409, "no_images")
    assert_error(world.alice.get(f"/jobs/{job_id}/frames/1"), 404, "image_not_available")
    assert_error(world.alice.get(f"/jobs/{job_id}/frames/9"), 404)
    assert_error(world.alice.get(f"/jobs/{job_id}/frames/9/log"), 404)

    images = {}
    for _ in range(3):
        claim = world.claim(world.agent_x, job_id)
        image = b"\x89PNG\r\n\x1a\n" + f"frame {claim['frame']}".encode()
        images[claim["frame"]] = image
        assert world.complete(world.agent_x, job_id, claim, image).status_code == 200
    assert world.job(job_id)["state"] == "collecting"
    for number, image in images.items():
        response = world.worker.put(f"/worker/jobs/{job_id}/frames/{number}/image", data=image,
                                    headers={"Content-Type": "image/png",
                                             "X-Checksum-Sha256": sha256(image)})
        assert response.status_code == 201, response.text

    response = world.alice.get(f"/jobs/{job_id}/frames/2")
    assert response.headers["Content-Type"] == "image/png" and response.content == images[2]
    log = world.alice.get(f"/jobs/{job_id}/frames/2/log")
    assert log.headers["Content-Type"].startswith("text/plain")
    assert log.text == "rendered frame 2"
    archive = world.alice.get(f"/jobs/{job_id}/archive")
    assert archive.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
        assert sorted(z.namelist()) == [f"job-{job_id}/frame_0000{n}.png" for n in (1, 2, 3)]
        assert z.read(f"job-{job_id}/frame_00002.png") == images[2]
    assert_error(world.bob.get(f"/jobs/{job_id}/archive"), 404)
    done = world.transition(job_id, "done")
    assert done["state"] == "done"


def test_bottle_errors_use_the_json_shape(world):
    assert_error(world.alice.get("/nothing/here"), 404, "not_found")
    assert_error(world.alice.request("DELETE", "/jobs"), 405, "method_not_allowed")
    assert_error(world.alice.get("/jobs/notanumber"), 404, "not_found")


def test_unknown_or_revoked_tokens_are_401(world, api):
    assert_error(api.client("not-a-token").get("/jobs"), 401, "unauthorized")
    response = world.anonymous.get("/jobs")
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    client = api.client()
    client.session.headers["Authorization"] = "Basic abc"
    assert_error(client.get("/jobs"), 401, "unauthorized")


@pytest.mark.parametrize("part_header", [
    b'form-data; name="\x00%J"',                       # NUL in a field name
    b'form-data; name="na\xffme"',                      # a name that is not UTF-8
    b'form-data; name="scene"; filename="a\x00.pov"',  # NUL in a file name
])
def test_a_malformed_multipart_body_is_a_400_not_a_500(world, part_header):
    boundary = b"raycrafter-test-boundary"
    body = (b"--" + boundary + b"\r\nContent-Disposition: " + part_header + b"\r\n\r\nx\r\n"
            + b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n"
            + b"teapot\r\n--" + boundary + b"--\r\n")
    response = world.alice.post("/jobs", data=body, headers={
        "Content-Type": "multipart/form-data; boundary=" + boundary.decode()})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"] in ("invalid_field", "invalid_archive")


@pytest.mark.postgres_only  # SQLite's planner keeps no statistics of a table unless asked
def test_the_planner_counts_a_new_jobs_frames_at_once(world):
    job = world.create_job(world.alice, frames="1-50")
    with db.connection():
        plan = db.database.execute_sql(
            "EXPLAIN (FORMAT JSON) SELECT id FROM frame WHERE job_id = %s AND state = %s",
            (job["id"], "pending")).fetchone()[0]
    # Without statistics that know the job, the planner expects a frame or two of it and
    # reads the lease queries off the index on job_id alone, every frame of the job each time.
    assert plan[0]["Plan"]["Plan Rows"] >= 25



@pytest.mark.parametrize("options, field", [
    ('{"declare": {"Speed": Infinity}}', "options.declare.Speed"),
    ('{"antialias_threshold": NaN}', "options.antialias_threshold"),
])
def test_options_holding_a_number_that_is_not_finite_are_refused(world, options, field):
    response = world.alice.post("/jobs", files=scene_upload(), data=job_fields(options=options))
    body = assert_error(response, 400, "invalid_field", field)
    assert "must be a finite number" in body["message"]
