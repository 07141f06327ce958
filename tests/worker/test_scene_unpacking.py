"""The worker unpacks scene archives itself (never on the login node) and keeps only
regular files and directories below the job's input directory."""
import os
import tarfile

import pytest

from raycrafter_worker.errors import PermanentError
from raycrafter_worker.handlers import _extract
from support.api_testing import tar_gz


def write_archive(path, members):
    path.write_bytes(tar_gz(members))


def regular(name, data, mode=0o644):
    member = tarfile.TarInfo(name)
    member.size, member.mode = len(data), mode
    return member, data


def special(name, kind, target=""):
    member = tarfile.TarInfo(name)
    member.type, member.linkname = kind, target
    return member, None


def test_files_and_directories_are_unpacked_without_special_bits(tmp_path):
    archive = tmp_path / "scene.tar.gz"
    write_archive(archive, [regular("scene.pov", b"sphere {}"),
                            regular("inc/props.inc", b"#declare A = 1;", mode=0o4755)])
    _extract(str(archive), "tar.gz", str(tmp_path / "input"))
    assert (tmp_path / "input/scene.pov").read_bytes() == b"sphere {}"
    props = tmp_path / "input/inc/props.inc"
    assert props.read_bytes() == b"#declare A = 1;"
    assert os.stat(props).st_mode & 0o7777 == 0o755


@pytest.mark.parametrize("member", [
    regular("../escape.pov", b"x"),
    special("link.inc", tarfile.SYMTYPE, "/etc/passwd"),
    special("hard.inc", tarfile.LNKTYPE, "scene.pov"),
    special("fifo", tarfile.FIFOTYPE),
], ids=["parent", "symlink", "hardlink", "fifo"])
def test_members_leaving_the_input_directory_or_not_plain_files_are_refused(tmp_path, member):
    archive = tmp_path / "scene.tar.gz"
    write_archive(archive, [regular("scene.pov", b"sphere {}"), member])
    with pytest.raises(PermanentError):
        _extract(str(archive), "tar.gz", str(tmp_path / "input"))
    assert not (tmp_path / "escape.pov").exists()


def test_an_absolute_member_name_stays_inside_the_input_directory(tmp_path):
    archive = tmp_path / "scene.tar.gz"
    write_archive(archive, [regular("scene.pov", b"sphere {}"),
                            regular("/tmp/raycrafter-escape-check.inc", b"x")])
    _extract(str(archive), "tar.gz", str(tmp_path / "input"))
    assert (tmp_path / "input/tmp/raycrafter-escape-check.inc").read_bytes() == b"x"
    assert not os.path.exists("/tmp/raycrafter-escape-check.inc")
