"""Uploaded archives: nothing in them may reach outside the job directory."""
import io
import stat
import tarfile
import zipfile

import pytest

from raycrafter_api import archives
from support.api_testing import SCENE, assert_error, job_fields, scene_upload, tar_gz


def member(name, kind=tarfile.REGTYPE, linkname="", size=0):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, size
    return info


def zip_bytes(*entries):
    """A zip from (name, data, unix mode) triples."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, data)
    return buffer.getvalue()


SCENE_MEMBER = ("scene.pov", SCENE)
BAD_TARS = {
    "absolute path": [SCENE_MEMBER, ("/etc/cron.d/evil", b"x")],
    "dot-dot": [SCENE_MEMBER, ("textures/../../evil", b"x")],
    "symlink out (absolute)": [SCENE_MEMBER, (member("link", tarfile.SYMTYPE, "/etc/passwd"),
                                              None)],
    "symlink out (relative)": [SCENE_MEMBER, (member("a/link", tarfile.SYMTYPE, "../../x"),
                                              None)],
    "hardlink out": [SCENE_MEMBER, (member("hard", tarfile.LNKTYPE, "/etc/shadow"), None)],
    "hardlink to a missing member": [SCENE_MEMBER, (member("hard", tarfile.LNKTYPE, "nope"),
                                                    None)],
    "device file": [SCENE_MEMBER, (member("dev", tarfile.CHRTYPE), None)],
    "fifo": [SCENE_MEMBER, (member("fifo", tarfile.FIFOTYPE), None)],
    "backslash name": [SCENE_MEMBER, ("..\\..\\evil", b"x")],
}


@pytest.mark.parametrize("members", BAD_TARS.values(), ids=BAD_TARS.keys())
def test_tar_traversal_is_rejected(tmp_path, members):
    path = tmp_path / "scene.tar.gz"
    path.write_bytes(tar_gz(members))
    with pytest.raises(archives.ArchiveRejected):
        archives.check(str(path), "tar.gz", 100, 10 ** 6)


BAD_ZIPS = {
    "absolute path": [("scene.pov", SCENE, 0o100644), ("/tmp/evil", b"x", 0o100644)],
    "dot-dot": [("scene.pov", SCENE, 0o100644), ("../evil", b"x", 0o100644)],
    "symlink out": [("scene.pov", SCENE, 0o100644), ("l", b"/etc/passwd", stat.S_IFLNK | 0o777)],
    "relative symlink out": [("scene.pov", SCENE, 0o100644),
                             ("d/l", b"../../etc", stat.S_IFLNK | 0o777)],
    "device file": [("scene.pov", SCENE, 0o100644), ("dev", b"", stat.S_IFBLK | 0o600)],
}


@pytest.mark.parametrize("entries", BAD_ZIPS.values(), ids=BAD_ZIPS.keys())
def test_zip_traversal_is_rejected(tmp_path, entries):
    path = tmp_path / "scene.zip"
    path.write_bytes(zip_bytes(*entries))
    with pytest.raises(archives.ArchiveRejected):
        archives.check(str(path), "zip", 100, 10 ** 6)


def test_links_inside_the_scene_are_allowed(tmp_path):
    path = tmp_path / "scene.tar.gz"
    path.write_bytes(tar_gz([SCENE_MEMBER, ("tex/a.png", b"png"),
                             (member("tex/b.png", tarfile.SYMTYPE, "a.png"), None),
                             (member("copy.pov", tarfile.LNKTYPE, "scene.pov"), None)]))
    archives.check(str(path), "tar.gz", 100, 10 ** 6)
    path = tmp_path / "scene.zip"
    path.write_bytes(zip_bytes(("scene.pov", SCENE, 0o100644),
                               ("inc/l", b"../scene.pov", stat.S_IFLNK | 0o777)))
    archives.check(str(path), "zip", 100, 10 ** 6)


def test_member_count_and_size_limits(tmp_path):
    many = tmp_path / "many.tar.gz"
    many.write_bytes(tar_gz([SCENE_MEMBER] + [(f"f{i}", b"") for i in range(10)]))
    with pytest.raises(archives.ArchiveRejected, match="more than 5 members"):
        archives.check(str(many), "tar.gz", 5, 10 ** 6)
    big = tmp_path / "big.zip"
    big.write_bytes(zip_bytes(("scene.pov", SCENE, 0o100644),
                              ("zeros", b"\0" * 100_000, 0o100644)))
    with pytest.raises(archives.ArchiveRejected, match="unpacks to more than"):
        archives.check(str(big), "zip", 100, 50_000)


@pytest.fixture
def config_values(config_values):
    return {**config_values, "max_archive_members": 3, "max_archive_bytes": 10_000}


@pytest.mark.parametrize("name, content, message", [
    ("a.tar.gz", tar_gz([SCENE_MEMBER, ("../../etc/passwd", b"x")]), "'..'"),
    ("a.tar.gz", tar_gz([SCENE_MEMBER, ("/abs", b"x")]), "absolute"),
    ("a.tar.gz", tar_gz([SCENE_MEMBER, (member("l", tarfile.SYMTYPE, "/etc"), None)]), "links"),
    ("a.tar.gz", tar_gz([SCENE_MEMBER] + [(f"f{i}", b"") for i in range(5)]), "members"),
    ("a.zip", zip_bytes(("scene.pov", SCENE, 0o100644), ("big", b"\0" * 20_000, 0o100644)),
     "unpacks"),
])
def test_rejected_archives_are_400_over_http(world, api, name, content, message):
    body = assert_error(world.alice.post("/jobs", files=scene_upload(name, content),
                                         data=job_fields()), 400, "invalid_archive")
    assert message in body["message"] and body["details"]["field"] == "scene"
    assert world.alice.get("/jobs").json()["total"] == 1  # only job X from the world
