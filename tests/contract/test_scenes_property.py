"""What the API accepts, the worker unpacks, always: random folders of files, links to
files, links to links, links into other folders, hard links, empty folders, names that
differ only in case and names that are not ASCII, archived by Debian's tar and zip and by
Python's tarfile and zipfile, recursively or file by file (so folders may have no entry
of their own), in every compression the rule reads. For each, ``inspect`` (the API) and
``unpack`` (the worker) agree, and what is unpacked is the folder as ``cat`` reads it:
every file and every link a regular file with the bytes its path gives."""
import os
import random
import stat
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raycrafter_contract import scenes
from raycrafter_contract.scenes import SceneRejected

FOLDERS = ["tex", "Tex", "sub dir", "ünï", "tex/deeper", "ünï/ß"]
FILE_NAMES = ["a.inc", "A.inc", "b c.inc", "ünïcödé.inc", "x.pov", "map.png", "日本.inc"]
TAR_COMPRESSIONS = {"tar": "", "tar.gz": "z", "tar.bz2": "j", "tar.xz": "J"}
ZIP_METHODS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]


@st.composite
def folders(draw):
    """{relative path: ("file", bytes) | ("link", target path) | ("hardlink", path) |
    ("folder", None)}, always with scene.pov at the top."""
    tree = {"scene.pov": ("file", b"sphere { 0, 1 }\n")}
    places = [""] + draw(st.lists(st.sampled_from(FOLDERS), max_size=4, unique=True))
    for _ in range(draw(st.integers(0, 6))):
        name = f"{draw(st.sampled_from(places))}/{draw(st.sampled_from(FILE_NAMES))}"
        tree.setdefault(name.lstrip("/"), ("file", draw(st.binary(max_size=300))))
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["link", "link", "hardlink"]))
        # A hard link to a symbolic link is a second symbolic link, read from elsewhere.
        targets = sorted(name for name, (other, _) in tree.items()
                         if other in ("file", "hardlink") or (kind, other) == ("link", "link"))
        target = draw(st.sampled_from(targets))
        name = f"{draw(st.sampled_from(places))}/link {draw(st.integers(0, 9))}.inc"
        tree.setdefault(name.lstrip("/"), (kind, target))
    for place in places[1:]:
        if not any(name.startswith(place + "/") for name in tree):
            tree[place] = ("folder", None)
    return tree


def make(tree, root):
    """Write ``tree`` below ``root``: files and folders, then links (which may point at
    hard links), then hard links, each to an entry made before it (links followed)."""
    for step in (("file", "folder"), ("link",), ("hardlink",)):
        for name, (kind, value) in tree.items():
            if kind not in step:
                continue
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if kind == "file":
                path.write_bytes(value)
            elif kind == "folder":
                path.mkdir(exist_ok=True)
            elif kind == "link":
                os.symlink(os.path.relpath(value, os.path.dirname(name) or "."), path)
            else:
                os.link(root / value, path)


def entries(tree, order):
    """The paths to archive one by one: files and links only (folders get no entry)."""
    names = [name for name, (kind, _) in tree.items() if kind != "folder"]
    order.shuffle(names)
    return names


def debian_tar(tree, source, out, order, one_by_one, compression):
    what = ["--no-recursion", "--", *entries(tree, order)] if one_by_one else ["."]
    subprocess.run(["tar", f"-c{TAR_COMPRESSIONS[compression]}f", str(out), "-C",
                    str(source), *what], check=True)


def debian_zip(tree, source, out, order, one_by_one, compression):
    what = ["-D", *entries(tree, order)] if one_by_one else ["-r", "."]
    subprocess.run(["zip", "-qy", str(out), *what], cwd=source, check=True)


def python_tarfile(tree, source, out, order, one_by_one, compression):
    names = entries(tree, order) if one_by_one else sorted(tree)
    mode = "w:" + {"tar": "", "tar.gz": "gz", "tar.bz2": "bz2", "tar.xz": "xz"}[compression]
    with tarfile.open(out, mode, format=order.choice(
            [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])) as archive:
        for name in names:
            archive.add(source / name, arcname=name, recursive=False)


def python_zipfile(tree, source, out, order, one_by_one, compression):
    names = entries(tree, order) if one_by_one else sorted(tree)
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            path = source / name
            info = zipfile.ZipInfo.from_file(path, name)
            info.compress_type = order.choice(ZIP_METHODS)
            if path.is_symlink():
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                archive.writestr(info, os.readlink(path))
            elif path.is_dir():
                archive.writestr(info, b"")
            else:
                archive.writestr(info, path.read_bytes())


ARCHIVERS = {"Debian's tar": (debian_tar, list(TAR_COMPRESSIONS)),
             "Debian's zip": (debian_zip, ["zip"]),
             "Python's tarfile": (python_tarfile, list(TAR_COMPRESSIONS)),
             "Python's zipfile": (python_zipfile, ["zip"])}


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(tree=folders(), archiver=st.sampled_from(sorted(ARCHIVERS)), one_by_one=st.booleans(),
       seed=st.integers(0, 2 ** 32), data=st.data())
def test_what_the_rule_accepts_unpacks_to_the_folder(tree, archiver, one_by_one, seed, data):
    archive, compressions = ARCHIVERS[archiver]
    compression = data.draw(st.sampled_from(compressions))
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "scene", Path(tmp) / f"s.{compression}"
        make(tree, source)
        archive(tree, source, out, random.Random(seed), one_by_one, compression)
        seen = scenes.inspect(str(out), compression)
        target = Path(tmp) / "unpacked"
        assert scenes.unpack(str(out), compression, str(target)) == seen
        expected = {name: (source / name).read_bytes()
                    for name, (kind, _) in tree.items() if kind != "folder"}
        assert sorted(seen.files) == sorted(expected) and seen.main_file == "scene.pov"
        unpacked = {str(path.relative_to(target)): path.read_bytes()
                    for path in target.rglob("*") if not path.is_dir()}
        assert unpacked == expected
        assert not any(path.is_symlink() for path in target.rglob("*"))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(tree=folders(), tar=st.booleans(), seed=st.integers(0, 2 ** 32))
def test_a_name_archived_twice_is_refused_by_both_alike(tree, tar, seed):
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "scene", Path(tmp) / ("s.tar" if tar else "s.zip")
        make(tree, source)
        order = random.Random(seed)
        twice = order.choice(entries(tree, order))
        (python_tarfile if tar else python_zipfile)(tree, source, out, order, True,
                                                    "tar" if tar else "zip")
        if tar:
            with tarfile.open(out, "a") as archive:
                archive.add(source / twice, arcname=twice, recursive=False)
        else:
            with zipfile.ZipFile(out, "a") as archive:
                archive.writestr(twice, b"again")
        refusals = []
        for check in (lambda: scenes.inspect(str(out), "tar" if tar else "zip"),
                      lambda: scenes.unpack(str(out), "tar" if tar else "zip",
                                            str(Path(tmp) / "unpacked"))):
            try:
                check()
            except SceneRejected as refusal:
                refusals.append(str(refusal))
        assert refusals == [f"{twice}: the archive holds this name twice"] * 2
        assert not (Path(tmp) / "unpacked").exists()
