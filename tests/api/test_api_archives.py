"""Scene uploads over HTTP: what the scene rule (tests/contract) refuses is a 400 that names
the field and the member, nothing is stored, and the job keeps the main file it will render."""
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from support import hostile_archives as hostile
from support.api_testing import SCENE, assert_error, job_fields, scene_upload, tar_gz


@pytest.fixture
def config_values(config_values):
    return {**config_values, "max_archive_members": 3, "max_archive_bytes": 10_000}


def symlink(name, target):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, None


def zip_of(*entries):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("name, content, message, member", [
    ("a.tar.gz", tar_gz([("scene.pov", SCENE), ("../../etc/passwd", b"x")]), "'..'",
     "../../etc/passwd"),
    ("a.tar.gz", tar_gz([("scene.pov", SCENE), symlink("l", "/etc")]), "relative", "l"),
    ("a.tar.gz", tar_gz([("scene.pov", SCENE)] + [(f"f{i}", b"") for i in range(5)]),
     "members", None),
    ("a.zip", zip_of(("scene.pov", SCENE), ("big", b"\0" * 20_000)), "unpacks", "big"),
    ("a.zip", b"not a zip", "not a readable", None),
])
def test_refused_scenes_are_400_and_nothing_is_stored(world, api, name, content, message,
                                                      member):
    body = assert_error(world.alice.post("/jobs", files=scene_upload(name, content),
                                         data=job_fields()), 400, "invalid_archive")
    assert message in body["message"]
    assert body["details"] == {"field": "scene", "member": member}
    assert world.alice.get("/jobs").json()["total"] == 1  # only job X from the world
    assert list((Path(api.config.data_dir) / "tmp").iterdir()) == []


HOSTILE = {
    "bzip2 bomb": (hostile.zip_bomb("bzip2", 64 * hostile.MIB), "zeros",
                   "the scene unpacks to more than 10000 bytes"),
    "LZMA bomb": (hostile.zip_bomb("lzma", 64 * hostile.MIB), "zeros",
                  "the scene unpacks to more than 10000 bytes"),
    "link bomb": (hostile.zip_link_bomb("bzip2", 64 * hostile.MIB), "link.pov",
                  "it unpacks to more than the 9 bytes its header gives"),
    "member lying about its size": (hostile.zip_lying_about_size("deflate", 100, 20_000),
                                    "zeros.inc", "it unpacks to more than the 100 bytes its "
                                    "header gives"),
    "LZMA dictionary of 1 GiB": (hostile.zip_lzma_dictionary(1 << 30), "z.inc",
                                 "it asks for an LZMA dictionary of 1073741824 bytes, more "
                                 "than the 67108864 allowed"),
}


@pytest.mark.parametrize("content, member, reason", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_zips_are_400_naming_the_member_and_the_reason(world, api, content, member,
                                                               reason):
    body = assert_error(world.alice.post("/jobs", files=scene_upload("bomb.zip", content),
                                         data=job_fields()), 400, "invalid_archive")
    assert body["message"] == f"{member}: {reason}"
    assert body["details"] == {"field": "scene", "member": member}
    assert list((Path(api.config.data_dir) / "tmp").iterdir()) == []


def test_a_link_in_a_folder_without_an_entry_is_accepted_as_the_worker_unpacks_it(world):
    link = tarfile.TarInfo("links/a.inc")
    link.type, link.linkname = tarfile.SYMTYPE, "../inc/a.inc"
    archive = tar_gz([("scene.pov", SCENE), ("inc/a.inc", b"// a\n"), (link, None)])
    response = world.alice.post("/jobs", files=scene_upload("s.tar.gz", archive),
                                data=job_fields())
    assert response.status_code == 201, response.text


def test_the_folder_a_user_archived_is_accepted_with_its_main_file(world):
    archive = tar_gz([("myscene/teapot.pov", SCENE), ("myscene/inc/a.inc", b"")])
    response = world.alice.post("/jobs", files=scene_upload("teapot.tgz", archive),
                                data=job_fields())
    assert response.status_code == 201, response.text
    job = world.worker.get(f"/worker/jobs/{response.json()['id']}").json()
    assert job["scene_file"] == "teapot.pov" and job["scene"]["kind"] == "tar.gz"


def test_the_user_chooses_the_main_file_and_a_wrong_choice_names_the_field(world):
    archive = zip_of(("a.pov", SCENE), ("b.pov", SCENE))
    body = assert_error(world.alice.post("/jobs", files=scene_upload("s.zip", archive),
                                         data=job_fields()), 400, "invalid_archive")
    assert "a.pov, b.pov" in body["message"]
    body = assert_error(world.alice.post("/jobs", files=scene_upload("s.zip", archive),
                                         data=job_fields(scene_file="c.pov")),
                        400, "invalid_archive")
    assert body["details"]["field"] == "scene_file"
    created = world.alice.post("/jobs", files=scene_upload("s.zip", archive),
                               data=job_fields(scene_file="b.pov"))
    assert created.status_code == 201, created.text
    assert world.worker.get(f"/worker/jobs/{created.json()['id']}").json()["scene_file"] == \
        "b.pov"


def test_a_single_pov_file_keeps_its_name(world):
    created = world.alice.post("/jobs", files=scene_upload("teapot.pov"), data=job_fields())
    assert created.status_code == 201, created.text
    assert world.worker.get(f"/worker/jobs/{created.json()['id']}").json()["scene_file"] == \
        "teapot.pov"


def test_scene_is_required_and_must_be_a_known_kind(world):
    assert_error(world.alice.post("/jobs", data=job_fields(), files={"other": ("a", b"x")}),
                 400, "invalid_field", "scene")
    body = assert_error(world.alice.post("/jobs", files=scene_upload("scene.exe"),
                                         data=job_fields()), 400, "invalid_field", "scene")
    assert ".tar.xz" in body["message"]


def test_wrong_content_type_is_415(world):
    assert_error(world.alice.post("/jobs", json={"name": "x"}), 415, "unsupported_media_type")
