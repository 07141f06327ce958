"""The login node's end of a scene staged in as one stream (scene_receiver.py), run here
as the worker ships it (login_tools.py): the zip application under this machine's python3.
The same archives on the real login node, against the real API, are in
test_scene_stream.py."""
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

from raycrafter_contract import scenes
from raycrafter_worker import login_tools
from raycrafter_worker.scene_receiver import ABSENT, DAMAGED, RECORD_NAME, REFUSED
from support.hostile_archives import REFUSED_TARS, SCENE, tar_of

PYTHON = "/usr/bin/python3"
# What a job's folder holds once a scene is in place: the scene and the record of it.
RECEIVED = [RECORD_NAME, "input"]


@pytest.fixture
def receiver(tmp_path):
    """Runs the shipped application on an archive; returns (exit status, its answer)."""
    application = tmp_path / "receive-scene.pyz"
    application.write_bytes(login_tools.receiver_application()[0])

    def receive(archive, kind, into, sha256=None, size=None, cut=None, scene_file=None,
                check=False):
        arguments = [PYTHON, "-I", "-S", str(application), "--kind", kind,
                     "--size", str(len(archive) if size is None else size),
                     "--sha256", sha256 or hashlib.sha256(archive).hexdigest(),
                     "--into", str(into)] + (["--scene-file", scene_file] if scene_file else [])
        result = subprocess.run(arguments + (["--check"] if check else []),
                                input=b"" if check else archive[:cut], capture_output=True,
                                cwd=tmp_path, env={"HOME": str(tmp_path / "home")})
        return result.returncode, json.loads(result.stdout.decode() or "{}")

    return receive


def tree(folder):
    """Every path below ``folder`` with its bytes (None for a folder)."""
    return {str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes())
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("entries, words", REFUSED_TARS.values(), ids=REFUSED_TARS.keys())
def test_what_the_rule_refuses_is_refused_with_its_words_and_nothing_is_written(
        tmp_path, receiver, entries, words):
    archive = tar_of(entries)
    (tmp_path / "home").mkdir()
    job = tmp_path / "scratch" / "raycrafter" / "7"
    job.mkdir(parents=True)
    before = tree(tmp_path)
    status, answer = receiver(archive, "tar.gz", job / "input")
    with pytest.raises(scenes.SceneRejected) as api:  # what the API says of the same bytes
        scenes.inspect(str(_saved(tmp_path, archive)), "tar.gz")
    assert (status, answer) == (REFUSED, {"refused": str(api.value)}) and words in str(api.value)
    (tmp_path / "upload.tar.gz").unlink()
    assert tree(tmp_path) == before


def test_a_scene_is_unpacked_as_the_rule_unpacks_it(tmp_path, receiver):
    files = {"scene.pov": SCENE, "inc/ünï code.inc": b"// 1\n", "maps/a.png": os.urandom(999)}
    link = tarfile.TarInfo("inc/again.inc")
    link.type, link.linkname = tarfile.SYMTYPE, "ünï code.inc"
    archive = tar_of([(name, data) for name, data in files.items()] + [(link, None)])
    status, answer = receiver(archive, "tar.gz", tmp_path / "job" / "input")
    assert (status, answer) == (0, {"main_file": "scene.pov", "files": 4,
                                    "unpacked_bytes": sum(map(len, files.values())) + 5})
    scenes.unpack(str(_saved(tmp_path, archive)), "tar.gz", str(tmp_path / "here"))
    assert tree(tmp_path / "job" / "input") == tree(tmp_path / "here")
    assert sorted(os.listdir(tmp_path / "job")) == RECEIVED


@pytest.mark.parametrize("kind", ["zip", "pov", "tar.bz2"])
def test_every_kind_of_scene_is_received(tmp_path, receiver, kind):
    archive = {"pov": SCENE, "tar.bz2": _tar(SCENE, "bz2"), "zip": _zip(SCENE)}[kind]
    status, answer = receiver(archive, kind, tmp_path / "job" / "input", scene_file="scene.pov")
    assert status == 0 and answer["main_file"] == "scene.pov"
    assert (tmp_path / "job" / "input" / "scene.pov").read_bytes() == SCENE
    assert sorted(os.listdir(tmp_path / "job")) == RECEIVED  # the spooled copy is gone


@pytest.mark.parametrize("damage", ["cut short", "other bytes"])
def test_a_scene_that_arrives_damaged_leaves_the_one_received_before(tmp_path, receiver,
                                                                     damage):
    into = tmp_path / "job" / "input"
    old = tar_of([("scene.pov", b"// the scene staged in before\n")])
    assert receiver(old, "tar.gz", into)[0] == 0
    new = tar_of([("scene.pov", SCENE), ("inc/a.inc", os.urandom(300_000))])
    if damage == "cut short":
        status, answer = receiver(new, "tar.gz", into, cut=len(new) // 2)
    else:
        status, answer = receiver(new, "tar.gz", into, sha256="0" * 64)
    assert status == DAMAGED and "that were sent" in answer["damaged"]
    assert tree(into) == {"scene.pov": b"// the scene staged in before\n"}
    assert sorted(os.listdir(tmp_path / "job")) == RECEIVED


def test_a_scene_received_again_replaces_the_one_before_whole(tmp_path, receiver):
    into = tmp_path / "job" / "input"
    receiver(tar_of([("scene.pov", SCENE), ("old.inc", b"old")]), "tar.gz", into)
    receiver(tar_of([("scene.pov", SCENE), ("new.inc", b"new")]), "tar.gz", into)
    assert tree(into) == {"scene.pov": SCENE, "new.inc": b"new"}
    assert sorted(os.listdir(tmp_path / "job")) == RECEIVED


def test_a_scene_in_place_as_it_was_received_is_found_there(tmp_path, receiver):
    into = tmp_path / "job" / "input"
    archive = tar_of([("scene.pov", SCENE), ("inc/a.inc", b"// a\n")])
    received = receiver(archive, "tar.gz", into)
    assert receiver(archive, "tar.gz", into, check=True) == received
    assert tree(into) == {"scene.pov": SCENE, "inc": None, "inc/a.inc": b"// a\n"}


@pytest.mark.parametrize("change", ["nothing received", "another archive", "a file edited",
                                    "a file removed", "a file truncated"])
def test_a_scene_not_in_place_as_it_was_received_is_absent(tmp_path, receiver, change):
    into = tmp_path / "job" / "input"
    archive = tar_of([("scene.pov", SCENE), ("inc/a.inc", b"// a\n")])
    if change != "nothing received":
        assert receiver(archive, "tar.gz", into)[0] == 0
    if change == "another archive":
        archive = tar_of([("scene.pov", SCENE)])
    elif change == "a file edited":
        (into / "inc" / "a.inc").write_bytes(b"// b\n")
    elif change == "a file removed":
        (into / "inc" / "a.inc").unlink()
    elif change == "a file truncated":
        (into / "scene.pov").write_bytes(SCENE[:-1])
    status, answer = receiver(archive, "tar.gz", into, check=True)
    assert status == ABSENT and answer["absent"], answer


def test_the_application_is_the_same_bytes_each_time_it_is_built():
    first = login_tools.receiver_application()
    login_tools.receiver_application.cache_clear()
    assert login_tools.receiver_application() == first


def test_the_receiver_needs_nothing_newer_than_python_3_8():
    # What runs on the login node: the receiver and the contract (checked with the node
    # agent in tests/nodeagent/test_python38.py).
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from vermin import main; sys.exit(main())",
         "--target=3.8-", "--violations", "--eval-annotations", "--no-tips",
         "--no-parse-comments", login_tools.scene_receiver.__file__],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _saved(folder, archive):
    path = folder / "upload.tar.gz"
    path.write_bytes(archive)
    return path


def _tar(scene, compression):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}") as tar:
        info = tarfile.TarInfo("scene.pov")
        info.size = len(scene)
        tar.addfile(info, io.BytesIO(scene))
    return buffer.getvalue()


def _zip(scene):
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("scene.pov", scene)
    return buffer.getvalue()
