"""The scene rule the API checks uploads by and the worker unpacks them by.

Archives are made the ways people make them, with Debian's own ``tar`` and ``zip``, and
every case is run through both ``inspect`` (the API) and ``unpack`` (the worker): they must
accept and refuse exactly the same scenes, so an accepted upload can never fail later.
"""
import gzip
import io
import os
import stat
import struct
import subprocess
import sys
import tarfile
import zipfile

import pytest

from raycrafter_contract import scenes
from raycrafter_contract.scenes import SceneLimits, SceneRejected

SCENE = b'#include "inc/colors.inc"\nsphere { 0, 1 pigment { Red } }\n'
SMALL = SceneLimits(max_members=20, max_bytes=100_000, ratio_floor=10_000, max_ratio=50)


def make_folder(root, files):
    """Write {relative name: bytes} below ``root``."""
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def run(*argv, cwd=None):
    subprocess.run([str(a) for a in argv], check=True, cwd=cwd, capture_output=True)


def both(path, kind, tmp_path, limits=SceneLimits(), scene_file=None, upload_name=None):
    """What inspect says and what unpack did must agree; returns (scene, unpacked dir)."""
    target = tmp_path / "unpacked"
    try:
        seen = scenes.inspect(str(path), kind, limits, scene_file, upload_name)
    except SceneRejected as refused:
        with pytest.raises(SceneRejected) as again:
            scenes.unpack(str(path), kind, str(target), limits, scene_file, upload_name)
        assert str(again.value) == str(refused)
        assert not target.exists() and not (tmp_path / "unpacked.partial").exists()
        raise
    unpacked = scenes.unpack(str(path), kind, str(target), limits, scene_file, upload_name)
    assert unpacked == seen
    on_disk = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert on_disk == sorted(seen.files)
    return seen, target


def rejected(path, kind, tmp_path, limits=SceneLimits(), **kwargs):
    with pytest.raises(SceneRejected) as refused:
        both(path, kind, tmp_path, limits, **kwargs)
    return refused.value


FOLDER = {"scene.pov": SCENE, "inc/colors.inc": b"#declare Red = rgb <1,0,0>;\n",
          "maps/wood grain.png": b"\x89PNG fake", "maps/ünïcode.inc": b"// ok\n"}

ARCHIVERS = {
    # how people archive a folder: (file name, command run in the folder's parent)
    "tar.gz with its top folder": ("s.tar.gz", ["tar", "-czf", "{out}", "myscene"]),
    "tgz of the folder's content": ("s.tgz", ["tar", "-czf", "{out}", "-C", "myscene", "."]),
    "tar.bz2": ("s.tar.bz2", ["tar", "-cjf", "{out}", "myscene"]),
    "tbz2 of the content": ("s.tbz2", ["tar", "-cjf", "{out}", "-C", "myscene", "."]),
    "tar.xz": ("s.tar.xz", ["tar", "-cJf", "{out}", "myscene"]),
    "txz of the content": ("s.txz", ["tar", "-cJf", "{out}", "-C", "myscene", "."]),
    "plain tar": ("s.tar", ["tar", "-cf", "{out}", "myscene"]),
    "zip of the folder": ("s.zip", ["zip", "-qr", "{out}", "myscene"]),
    "zip of the content": ("s.zip", ["sh", "-c", "cd myscene && zip -qr {out} ."]),
}


@pytest.mark.parametrize("name, command", ARCHIVERS.values(), ids=ARCHIVERS.keys())
def test_the_archives_people_make_unpack_to_the_folder(tmp_path, name, command):
    make_folder(tmp_path / "myscene", FOLDER)
    out = tmp_path / name
    run(*[part.replace("{out}", str(out)) for part in command], cwd=tmp_path)
    scene, target = both(out, scenes.kind_of(name), tmp_path)
    assert scene.main_file == "scene.pov"
    assert sorted(scene.files) == sorted(FOLDER)
    for relative, data in FOLDER.items():
        assert (target / relative).read_bytes() == data
    assert scene.unpacked_bytes == sum(map(len, FOLDER.values()))


def test_links_inside_the_scene_unpack_as_copies(tmp_path):
    folder = make_folder(tmp_path / "myscene", {"scene.pov": SCENE, "tex/a.inc": b"// a\n"})
    os.symlink("a.inc", folder / "tex" / "b.inc")
    os.symlink("tex/b.inc", folder / "chain.inc")  # a link to a link
    os.link(folder / "scene.pov", folder / "hard.pov")
    for name, command in (("l.tar.gz", ["tar", "-czf", "l.tar.gz", "-C", "myscene", "."]),
                          ("l.zip", ["sh", "-c", "cd myscene && zip -qry ../l.zip ."])):
        run(*command, cwd=tmp_path)
        scene, target = both(tmp_path / name, scenes.kind_of(name), tmp_path)
        assert set(scene.files) == {"scene.pov", "hard.pov", "tex/a.inc", "tex/b.inc",
                                    "chain.inc"}
        assert not any(p.is_symlink() for p in target.rglob("*"))
        assert (target / "chain.inc").read_bytes() == b"// a\n"
        assert (target / "hard.pov").read_bytes() == SCENE
        os.rename(target, tmp_path / f"seen-{name}")


def test_modes_are_plain_whatever_the_archive_says(tmp_path):
    path = tmp_path / "s.tar.gz"
    path.write_bytes(tar_of([("scene.pov", SCENE, 0o4777), ("tool.sh", b"#!/bin/sh\n", 0o6755)]))
    _, target = both(path, "tar.gz", tmp_path)
    assert stat.S_IMODE(os.stat(target / "scene.pov").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(target / "tool.sh").st_mode) == 0o755
    path.write_bytes(tar_of([("scene.pov", SCENE, 0o600)]))
    scenes.unpack(str(path), "tar.gz", str(tmp_path / "plain"))
    assert stat.S_IMODE(os.stat(tmp_path / "plain" / "scene.pov").st_mode) == 0o644


# -- the main scene file -------------------------------------------------------------------

def test_the_main_file_is_scene_pov_else_the_only_pov_at_the_top(tmp_path):
    path = tmp_path / "a.tar.gz"
    path.write_bytes(tar_of([("teapot.pov", SCENE), ("inc/other.pov", SCENE)]))
    assert both(path, "tar.gz", tmp_path)[0].main_file == "teapot.pov"


def test_several_pov_files_need_the_user_to_choose(tmp_path):
    path = tmp_path / "a.zip"
    path.write_bytes(zip_of([("a.pov", SCENE), ("b.pov", SCENE)]))
    refusal = rejected(path, "zip", tmp_path)
    assert "a.pov, b.pov" in str(refusal) and "scene_file" in str(refusal)
    scene = scenes.inspect(str(path), "zip", scene_file="b.pov")
    assert scene.main_file == "b.pov"


def test_a_chosen_main_file_may_sit_in_a_folder_and_must_exist(tmp_path):
    path = tmp_path / "a.tar.gz"
    path.write_bytes(tar_of([("top/render/main.pov", SCENE), ("top/inc/x.inc", b"")]))
    assert scenes.inspect(str(path), "tar.gz", scene_file="render/main.pov").main_file == \
        "render/main.pov"
    # The name as the user sees it in their archive works too.
    assert scenes.inspect(str(path), "tar.gz", scene_file="top/render/main.pov").main_file == \
        "render/main.pov"
    missing = rejected(path, "tar.gz", tmp_path, scene_file="render/nope.pov")
    assert missing.field == "scene_file" and "render/nope.pov" in str(missing)


def test_a_scene_without_a_pov_file_at_its_top_is_refused(tmp_path):
    path = tmp_path / "a.tar.gz"
    path.write_bytes(tar_of([("readme.txt", b"x"), ("sub/deep.pov", SCENE)]))
    assert "no .pov file at its top" in str(rejected(path, "tar.gz", tmp_path))


def test_a_single_pov_file_keeps_its_name(tmp_path):
    path = tmp_path / "upload"
    path.write_bytes(SCENE)
    scene, target = both(path, "pov", tmp_path, upload_name="teapot.pov")
    assert scene.main_file == "teapot.pov" and (target / "teapot.pov").read_bytes() == SCENE
    assert scenes.inspect(str(path), "pov", upload_name="C:\\x\\..").main_file == "scene.pov"
    assert scenes.inspect(str(path), "pov").main_file == "scene.pov"


# -- what is refused, and how it is said ----------------------------------------------------

def member(name, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, None


REFUSED_TARS = {
    "dot-dot": ([("scene.pov", SCENE), ("a/../../evil", b"x")], "'..'"),
    "absolute symlink": ([("scene.pov", SCENE), member("l", tarfile.SYMTYPE, "/etc/passwd")],
                         "relative"),
    "symlink out": ([("scene.pov", SCENE), member("a/l", tarfile.SYMTYPE, "../../x")],
                    "stay inside"),
    "symlink to a folder": ([("scene.pov", SCENE), ("d/x.inc", b""),
                             member("l", tarfile.SYMTYPE, "d")], "folders"),
    "dangling symlink": ([("scene.pov", SCENE), member("l", tarfile.SYMTYPE, "nope")],
                         "not in the scene"),
    "link loop": ([("scene.pov", SCENE), member("a", tarfile.SYMTYPE, "b"),
                   member("b", tarfile.SYMTYPE, "a")], "circles"),
    "hard link out": ([("scene.pov", SCENE), member("h", tarfile.LNKTYPE, "../etc/shadow")],
                      "'..'"),
    "hard link to nothing": ([("scene.pov", SCENE), member("h", tarfile.LNKTYPE, "nope")],
                             "not in the scene"),
    "device": ([("scene.pov", SCENE), member("dev", tarfile.CHRTYPE)], "only files"),
    "fifo": ([("scene.pov", SCENE), member("fifo", tarfile.FIFOTYPE)], "only files"),
    "name twice": ([("scene.pov", SCENE), ("scene.pov", SCENE)], "twice"),
    "file and folder": ([("scene.pov", SCENE), ("a", b""), ("a/b", b"")], "both a file"),
    "newline in a name": ([("scene.pov", SCENE), ("a\nb", b"")], "control characters"),
    "long name": ([("scene.pov", SCENE), ("x" * 256, b"")], "longer than 255"),
    "deep folders": ([("scene.pov", SCENE), ("d/" * 40 + "f", b"")], "deeper"),
}


@pytest.mark.parametrize("members, message", REFUSED_TARS.values(), ids=REFUSED_TARS.keys())
def test_what_cannot_be_unpacked_safely_is_refused_with_a_reason(tmp_path, members, message):
    path = tmp_path / "a.tar.gz"
    path.write_bytes(tar_of(members))
    assert message in str(rejected(path, "tar.gz", tmp_path))


def test_a_name_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "a.tar"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT,
                      encoding="latin-1") as tar:
        for name, data in (("scene.pov", SCENE), ("caf\xe9.inc", b"")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())
    refusal = rejected(path, "tar", tmp_path)
    assert "not valid UTF-8" in str(refusal) and "caf" in str(refusal)


def test_an_encrypted_zip_is_refused(tmp_path):
    make_folder(tmp_path / "myscene", {"scene.pov": SCENE})
    run("sh", "-c", "cd myscene && zip -q -P secret ../e.zip scene.pov", cwd=tmp_path)
    assert "encrypted" in str(rejected(tmp_path / "e.zip", "zip", tmp_path))


def test_an_unknown_zip_compression_is_refused(tmp_path):
    data = bytearray(zip_of([("scene.pov", SCENE)]))
    # Say "method 9 (deflate64)" in both the local and the central header.
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = data.index(signature)
        data[at + offset:at + offset + 2] = struct.pack("<H", 9)
    path = tmp_path / "d.zip"
    path.write_bytes(bytes(data))
    assert "compression method 9" in str(rejected(path, "zip", tmp_path))


@pytest.mark.parametrize("name, content", [
    ("junk.zip", b"not a zip at all"),
    ("junk.tar.gz", b"\x1f\x8b\x08\x00not really gzip"),
    ("junk.tar.xz", b"not xz"),
    ("junk.tar.bz2", b"BZh9 not bzip2"),
    ("empty.tar", b""),
])
def test_what_is_not_an_archive_is_refused(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    assert "not a readable" in str(rejected(path, scenes.kind_of(name), tmp_path))


def test_a_truncated_archive_is_refused(tmp_path):
    whole = tar_of([("scene.pov", SCENE), ("big.inc", os.urandom(50_000))])
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(whole[:len(whole) // 2])
    assert "not a readable" in str(rejected(path, "tar.gz", tmp_path))


def test_a_damaged_zip_member_is_refused(tmp_path):
    data = bytearray(zip_of([("scene.pov", SCENE), ("x.inc", b"a" * 5000)]))
    at = data.index(b"PK\x03\x04", 10) + 30 + len("x.inc") + 5
    data[at] ^= 0xFF
    path = tmp_path / "bad.zip"
    path.write_bytes(bytes(data))
    assert "not a readable" in str(rejected(path, "zip", tmp_path))


def test_unknown_file_endings_name_the_accepted_ones():
    with pytest.raises(SceneRejected) as refused:
        scenes.kind_of("scene.rar")
    for ending in (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip"):
        assert ending in str(refused.value)
    assert scenes.kind_of("MY.TGZ") == "tar.gz" and scenes.kind_of("a.pov") == "pov"


# -- bounded whatever the upload --------------------------------------------------------------

def test_member_count_is_bounded(tmp_path):
    path = tmp_path / "many.tar.gz"
    path.write_bytes(tar_of([("scene.pov", SCENE)] + [(f"f{i}", b"") for i in range(30)]))
    assert "more than 20 members" in str(rejected(path, "tar.gz", tmp_path, SMALL))


def test_the_bytes_really_unpacked_are_bounded_not_the_sizes_claimed(tmp_path):
    path = tmp_path / "big.zip"
    path.write_bytes(zip_of([("scene.pov", SCENE), ("noise", os.urandom(150_000))]))
    assert "unpacks to more than 100000 bytes" in str(rejected(path, "zip", tmp_path, SMALL))


def test_a_decompression_bomb_stops_at_the_ratio(tmp_path):
    path = tmp_path / "bomb.tar.gz"
    path.write_bytes(tar_of([("scene.pov", SCENE), ("zeros", b"\0" * 90_000)]))
    assert "times its own size" in str(rejected(path, "tar.gz", tmp_path, SMALL))


def test_a_zip_claiming_more_entries_than_allowed_is_refused_before_it_is_read(tmp_path):
    data = bytearray(zip_of([("scene.pov", SCENE)]))
    end = data.rindex(b"PK\x05\x06")
    data[end + 8:end + 12] = struct.pack("<HH", 60_000, 60_000)
    path = tmp_path / "claims.zip"
    path.write_bytes(bytes(data))
    assert "more than 20 members" in str(rejected(path, "zip", tmp_path, SMALL))


# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec,
# so a large test process would be counted as the child's own memory.
HOSTILE = r"""
import sys
from raycrafter_contract import scenes
try:
    scenes.inspect(sys.argv[1], sys.argv[2])
    print("accepted")
except scenes.SceneRejected as error:
    print("refused:", error)
with open("/proc/self/status") as status:
    print(next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmHWM:")))
"""


def peak_memory_mib(path, kind):
    result = subprocess.run([sys.executable, "-c", HOSTILE, str(path), kind],
                            capture_output=True, text=True, check=True)
    verdict, peak = result.stdout.splitlines()
    return verdict, int(peak)


def test_a_huge_tar_header_is_refused_without_holding_it_in_memory(tmp_path):
    # A pax header of 512 MiB compresses to about half a MiB: tarfile would read it whole.
    path = tmp_path / "header.tar.gz"
    header_size = 512 * 1024 ** 2
    record = b"%d comment=" % (header_size)
    with open(path, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as out:
            info = tarfile.TarInfo("././@PaxHeader")
            info.type, info.size = tarfile.XHDTYPE, header_size
            out.write(info.tobuf(tarfile.USTAR_FORMAT))
            out.write(record)
            chunk = b"a" * (1 << 20)
            left = header_size - len(record)
            while left > 0:
                out.write(chunk[:left])
                left -= len(chunk)
    verdict, peak = peak_memory_mib(path, "tar.gz")
    assert verdict.startswith("refused:") and "header" in verdict
    assert peak < 100, f"{peak} MiB to refuse a 512 MiB header"


def test_a_zip_bomb_is_refused_in_bounded_memory(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("scene.pov", SCENE)
        with archive.open("zeros", "w") as out:
            chunk = b"\0" * (1 << 20)
            for _ in range(1024):
                out.write(chunk)
    assert path.stat().st_size < 2 * 1024 ** 2  # 1 GiB of zeros in about 1 MiB
    verdict, peak = peak_memory_mib(path, "zip")
    assert verdict.startswith("refused:") and "times its own size" in verdict
    assert peak < 100, f"{peak} MiB to refuse a zip bomb"


# -- archive builders -------------------------------------------------------------------------

def tar_of(members):
    """A .tar.gz from (name, data[, mode]) or (TarInfo, None) entries."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for entry in members:
            if isinstance(entry[0], tarfile.TarInfo):
                tar.addfile(entry[0])
                continue
            name, data, *mode = entry
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), (mode[0] if mode else 0o644)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_of(entries):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_the_scenes_ini_files_come_with_it(tmp_path):
    path = tmp_path / "a.tar.gz"
    big = b"; " + b"x" * 70_000 + b"\n"
    path.write_bytes(tar_of([("top/scene.pov", SCENE), ("top/scene.ini", b"Final_Frame=30\n"),
                             ("top/sub/other.INI", b"Width=320\n"), ("top/big.ini", big)]))
    scene, _ = both(path, "tar.gz", tmp_path)
    assert scene.ini_files == {"scene.ini": "Final_Frame=30\n", "sub/other.INI": "Width=320\n"}
