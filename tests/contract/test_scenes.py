"""The scene rule the API checks uploads by and the worker unpacks them by.

Archives are made the ways people make them, with Debian's own ``tar`` and ``zip``, and
every case is run through both ``inspect`` (the API) and ``unpack`` (the worker): they must
accept and refuse exactly the same scenes, so an accepted upload can never fail later.
"""
import dataclasses
import io
import os
import stat
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib

import pytest

from raycrafter_contract import scenes
from raycrafter_contract.scenes import SceneLimits, SceneRejected
from support import hostile_archives as hostile
from support.hostile_archives import MIB, REFUSED_TARS, tar_of

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
    """What inspect says and what unpack did must agree, and for a tar what unpack_from
    did reading it from a pipe (as the cluster's login node reads a scene the worker
    streams to it); returns (scene, unpacked dir)."""
    target = tmp_path / "unpacked"
    try:
        seen = scenes.inspect(str(path), kind, limits, scene_file, upload_name)
    except SceneRejected as refused:
        with pytest.raises(SceneRejected) as again:
            scenes.unpack(str(path), kind, str(target), limits, scene_file, upload_name)
        assert str(again.value) == str(refused)
        assert not target.exists() and not (tmp_path / "unpacked.partial").exists()
        if kind != "zip":
            with pytest.raises(SceneRejected) as piped:
                unpack_from_a_pipe(path, kind, tmp_path / "piped", limits, scene_file,
                                   upload_name)
            assert str(piped.value) == str(refused)
            assert not (tmp_path / "piped").exists()
        raise
    unpacked = scenes.unpack(str(path), kind, str(target), limits, scene_file, upload_name)
    assert unpacked == seen
    on_disk = files_below(target)
    assert on_disk == sorted(seen.files)
    if kind != "zip":
        piped = tmp_path / "piped"
        assert unpack_from_a_pipe(path, kind, piped, limits, scene_file, upload_name) == seen
        assert files_below(piped) == on_disk
        assert all((piped / name).read_bytes() == (target / name).read_bytes()
                   for name in on_disk)
    return seen, target


def files_below(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def unpack_from_a_pipe(path, kind, target, *rule):
    """scenes.unpack_from reading the scene from `cat`'s standard output, which cannot be
    sought in, followed by bytes that are not the scene's."""
    with subprocess.Popen(["sh", "-c", 'cat "$1"; echo trailing', "sh", str(path)],
                          stdout=subprocess.PIPE) as cat:
        try:
            return scenes.unpack_from(cat.stdout, os.path.getsize(path), kind, str(target),
                                      *rule)
        finally:
            cat.stdout.read()


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
    "pax tar": ("s.tar", ["tar", "--format=pax", "-cf", "{out}", "myscene"]),
    "ustar tar": ("s.tar", ["tar", "--format=ustar", "-cf", "{out}", "myscene"]),
    "tar.xz at xz -9 (a 64 MiB dictionary)": (
        "s.tar.xz", ["sh", "-c", "tar -cf - myscene | xz -9e > {out}"]),
    "tar.bz2 of bzip2 streams one after another": (
        "s.tar.bz2", ["sh", "-c", "tar -cf - myscene | split -b 2000 - part. && "
                      "for p in part.*; do bzip2 -c $p; done > {out}"]),
    "tar.gz of gzip members one after another": (
        "s.tar.gz", ["sh", "-c", "tar -cf - myscene | split -b 2000 - part. && "
                     "for p in part.*; do gzip -c $p; done > {out}"]),
    "zip of the folder": ("s.zip", ["zip", "-qr", "{out}", "myscene"]),
    "zip of the content": ("s.zip", ["sh", "-c", "cd myscene && zip -qr {out} ."]),
    "zip, stored": ("s.zip", ["zip", "-qr0", "{out}", "myscene"]),
    "zip, bzip2": ("s.zip", ["zip", "-qr", "-Z", "bzip2", "{out}", "myscene"]),
    "zip64": ("s.zip", ["zip", "-qr", "-fz", "{out}", "myscene"]),
    # Written to a pipe, zip cannot go back to its headers: sizes follow the data.
    "zip streamed (data descriptors)": (
        "s.zip", ["sh", "-c", "zip -qr - myscene | cat > {out}"]),
    "zip without folder entries": ("s.zip", ["zip", "-qrD", "{out}", "myscene"]),
    "zip of a self-extractor (bytes before the archive)": (
        "s.zip", ["sh", "-c", "zip -qr a.zip myscene && head -c 3000 /dev/urandom | "
                  "cat - a.zip > {out} && zip -qA {out}"]),
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


@pytest.mark.parametrize("name, command", [
    ("s.tar.gz", ["tar", "-czf", "{out}", "-C", "myscene", "scene.pov", "tex/a.inc",
                  "links/a.inc", "links/deeper/chain.inc"]),
    ("s.tar", ["tar", "-cf", "{out}", "-C", "myscene", "links/a.inc", "links/deeper/chain.inc",
               "scene.pov", "tex/a.inc"]),
    ("s.zip", ["sh", "-c", "cd myscene && zip -qyD {out} scene.pov tex/a.inc links/a.inc "
               "links/deeper/chain.inc"]),
], ids=["tar.gz, links first in their folders", "tar, links before their targets", "zip -D"])
def test_links_in_folders_without_entries_of_their_own_unpack(tmp_path, name, command):
    # Files listed one by one: the archive holds no entry for links/ or links/deeper/,
    # which hold nothing but links.
    folder = make_folder(tmp_path / "myscene", {"scene.pov": SCENE, "tex/a.inc": b"// a\n"})
    (folder / "links" / "deeper").mkdir(parents=True)
    os.symlink("../tex/a.inc", folder / "links" / "a.inc")
    os.symlink("../a.inc", folder / "links" / "deeper" / "chain.inc")
    out = tmp_path / name
    run(*[part.replace("{out}", str(out)) for part in command], cwd=tmp_path)
    listing = subprocess.run(["unzip", "-Z1", str(out)] if name.endswith(".zip")
                             else ["tar", "-tf", str(out)], capture_output=True, text=True)
    assert not [line for line in listing.stdout.splitlines() if line.endswith("/")]
    scene, target = both(out, scenes.kind_of(name), tmp_path)
    assert set(scene.files) == {"scene.pov", "tex/a.inc", "links/a.inc",
                                "links/deeper/chain.inc"}
    assert (target / "links" / "deeper" / "chain.inc").read_bytes() == b"// a\n"


PYTHON_ZIPS = {
    "bzip2": dict(compression=zipfile.ZIP_BZIP2),
    "lzma": dict(compression=zipfile.ZIP_LZMA),
    "zip64": dict(compression=zipfile.ZIP_DEFLATED, force_zip64=True),
    "streamed (data descriptors)": dict(compression=zipfile.ZIP_DEFLATED, unseekable=True),
}


class Unseekable(io.RawIOBase):
    """A pipe: zipfile writes each member's sizes after its data."""

    def __init__(self):
        self.buffer = io.BytesIO()

    def writable(self):
        return True

    def write(self, data):
        return self.buffer.write(data)


@pytest.mark.parametrize("options", PYTHON_ZIPS.values(), ids=PYTHON_ZIPS.keys())
def test_zips_python_writes_unpack_to_their_files(tmp_path, options):
    options = dict(options)
    force_zip64 = options.pop("force_zip64", False)
    out = Unseekable() if options.pop("unseekable", False) else io.BytesIO()
    with zipfile.ZipFile(out, "w", **options) as archive:
        for relative, data in FOLDER.items():
            with archive.open(relative, "w", force_zip64=force_zip64) as member:
                member.write(data)
        link = zipfile.ZipInfo("link.inc")
        link.create_system, link.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "inc/colors.inc")
    path = tmp_path / "s.zip"
    path.write_bytes((out.buffer if isinstance(out, Unseekable) else out).getvalue())
    scene, target = both(path, "zip", tmp_path)
    assert sorted(scene.files) == sorted([*FOLDER, "link.inc"])
    for relative, data in FOLDER.items():
        assert (target / relative).read_bytes() == data
    assert (target / "link.inc").read_bytes() == FOLDER["inc/colors.inc"]


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


def entry(name, content, **fields):
    return dataclasses.replace(hostile.stored(name, content), **fields)


def overlapping():
    """Two directory entries for one local header: each byte would unpack twice."""
    data = hostile.zip_archive([hostile.stored("scene.pov", SCENE),
                                hostile.stored("a.inc", b"x" * 100)])
    start = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 1)
    end = data.index(b"PK\x05\x06")
    second = data[start:end]
    record = bytearray(data[end:])
    record[8:12] = struct.pack("<HH", 3, 3)
    record[12:16] = struct.pack("<I", end - data.index(b"PK\x01\x02") + len(second))
    return data[:end] + second + bytes(record)


def renamed_locally():
    data = bytearray(hostile.zip_archive([hostile.stored("scene.pov", SCENE)]))
    data[30:39] = b"other.pov"
    return bytes(data)


def split_over_disks():
    data = bytearray(hostile.zip_archive([hostile.stored("scene.pov", SCENE)]))
    end = data.rindex(b"PK\x05\x06")
    data[end + 4:end + 6] = struct.pack("<H", 1)
    return bytes(data)


# Zip records saying what no honest tool writes, and how the rule answers each.
LYING_ZIPS = {
    "the same data under two entries": (overlapping(),
                                        "a.inc: its data overlaps that of a.inc"),
    "a local header naming another file": (renamed_locally(),
                                           "scene.pov: its local header names another file"),
    "stored, with two sizes": (
        hostile.zip_archive([entry("scene.pov", SCENE, size=len(SCENE) + 1)]),
        "scene.pov: it is stored uncompressed, but its header gives two different sizes"),
    "a size larger than its data": (
        hostile.zip_archive([hostile.stored("scene.pov", SCENE), entry(
            "a.inc", zlib.compress(b"abc")[2:-4], method="deflate", crc=zlib.crc32(b"abc"),
            size=4)]),
        "a.inc: it unpacks to 3 bytes, not the 4 its header gives"),
    "the encrypted flag": (hostile.zip_archive([entry("scene.pov", SCENE, flags=1)]),
                           "scene.pov: encrypted zip members cannot be unpacked"),
    "a CRC that does not match": (
        hostile.zip_archive([entry("scene.pov", SCENE, crc=1)]),
        "scene.pov: its data is damaged (the CRC-32 does not match)"),
    "a device": (hostile.zip_archive([hostile.stored("scene.pov", SCENE),
                                      hostile.stored("dev", b"", stat.S_IFCHR | 0o644)]),
                 "dev: only files, folders and links may be in a scene"),
    "split over several disks": (split_over_disks(), "not a readable .zip archive: archives "
                                 "split over several files are not supported"),
}


@pytest.mark.parametrize("content, message", LYING_ZIPS.values(), ids=LYING_ZIPS.keys())
def test_zip_headers_that_lie_are_refused_naming_the_member(tmp_path, content, message):
    path = tmp_path / "lies.zip"
    path.write_bytes(content)
    assert str(rejected(path, "zip", tmp_path)) == message


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
    assert str(rejected(path, "tar.gz", tmp_path)) == \
        "big.inc: the compressed data is cut short"


def test_a_damaged_zip_member_is_refused(tmp_path):
    data = bytearray(zip_of([("scene.pov", SCENE), ("x.inc", b"a" * 5000)]))
    at = data.index(b"PK\x03\x04", 10) + 30 + len("x.inc") + 5
    data[at] ^= 0xFF
    path = tmp_path / "bad.zip"
    path.write_bytes(bytes(data))
    assert str(rejected(path, "zip", tmp_path)).startswith(
        "x.inc: its compressed data is damaged")


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


BOMB = 256 * MIB
RATIO = "the archive unpacks to more than 200 times its own size"
TOO_MUCH = "it unpacks to more than the 9 bytes its header gives"
HEADER = "a member's header is larger than 1048576 bytes"
# (kind, archive builder, the refusal): each costs hundreds of MiB, or crashes, unbounded.
HOSTILE_ARCHIVES = {
    "zip, deflate bomb": ("zip", lambda: hostile.zip_bomb("deflate", BOMB),
                          f"zeros: {RATIO}"),
    "zip, bzip2 bomb": ("zip", lambda: hostile.zip_bomb("bzip2", BOMB), f"zeros: {RATIO}"),
    "zip, LZMA bomb": ("zip", lambda: hostile.zip_bomb("lzma", BOMB), f"zeros: {RATIO}"),
    "zip link, deflate": ("zip", lambda: hostile.zip_link_bomb("deflate", BOMB),
                          f"link.pov: {TOO_MUCH}"),
    "zip link, bzip2": ("zip", lambda: hostile.zip_link_bomb("bzip2", BOMB),
                        f"link.pov: {TOO_MUCH}"),
    "zip link, LZMA": ("zip", lambda: hostile.zip_link_bomb("lzma", BOMB),
                       f"link.pov: {TOO_MUCH}"),
    "zip member lying about its size": (
        "zip", lambda: hostile.zip_lying_about_size("bzip2", 1000, BOMB),
        "zeros.inc: it unpacks to more than the 1000 bytes its header gives"),
    "zip, LZMA asking for a 1 GiB dictionary": (
        "zip", lambda: hostile.zip_lzma_dictionary(1 << 30),
        "z.inc: it asks for an LZMA dictionary of 1073741824 bytes, more than the 67108864 "
        "allowed"),
    "zip, 3,000 small members": ("zip", lambda: hostile.zip_many_members(3000),
                                 "the archive holds more than 2000 members"),
    "tar.gz bomb": ("tar.gz", lambda: hostile.tar_bomb("gz", BOMB), f"zeros: {RATIO}"),
    "tar.bz2 bomb": ("tar.bz2", lambda: hostile.tar_bomb("bz2", BOMB),
                     f"zeros: {RATIO}"),
    "tar.xz bomb": ("tar.xz", lambda: hostile.tar_bomb("xz", BOMB), f"zeros: {RATIO}"),
    "tar header claiming 1 TiB": ("tar.gz", lambda: hostile.tar_claiming(1 << 40),
                                  "zeros: the scene unpacks to more than 2147483648 bytes"),
    "tar, pax header of 512 MiB": ("tar.gz", lambda: hostile.tar_pax_header_bomb(512 * MIB),
                                   HEADER),
    "tar, GNU sparse map of 4 million entries": (
        "tar.gz", lambda: hostile.tar_sparse_map_bomb(200_000), HEADER),
    "tar, pax sparse map of 20 million numbers": (
        "tar.gz", lambda: hostile.tar_pax_sparse_map_bomb(20_000_000), HEADER),
    "tar.xz asking for a 1 GiB dictionary": (
        "tar.xz", lambda: hostile.tar_xz_dictionary(1 << 30, 150 * MIB),
        "the archive needs more than 71303168 bytes of memory to decompress (its dictionary "
        "is too large)"),
}


@pytest.mark.parametrize("kind, build, refusal", HOSTILE_ARCHIVES.values(),
                         ids=HOSTILE_ARCHIVES.keys())
def test_hostile_archives_are_refused_in_bounded_memory(tmp_path, kind, build, refusal):
    path = tmp_path / f"hostile.{kind}"
    path.write_bytes(build())
    verdict, peak = peak_memory_mib(path, kind)
    assert verdict == f"refused: {refusal}"
    assert peak < 100, f"{peak} MiB to refuse it"


def test_a_member_is_refused_for_the_size_its_header_gives_before_it_is_decompressed(
        tmp_path):
    # The data after the header is missing: only the header can have been read.
    path = tmp_path / "claims.tar.gz"
    path.write_bytes(hostile.tar_claiming(200_000))
    assert str(rejected(path, "tar.gz", tmp_path, SMALL)) == \
        "zeros: the scene unpacks to more than 100000 bytes"


# -- archive builders -------------------------------------------------------------------------

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
