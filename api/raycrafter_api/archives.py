"""Checking uploaded scene archives before anything extracts them.

An archive is accepted only if extracting it into an empty directory can create nothing
outside that directory and nothing but regular files, directories and links that stay
inside; its member count and total uncompressed size are bounded; and it holds
``scene.pov`` at its top level.
"""
import posixpath
import stat
import tarfile
import zipfile

from .errors import ApiError

SCENE_FILE = "scene.pov"
MAX_LINK_TARGET = 4096


class ArchiveRejected(ApiError):
    def __init__(self, message, member=None):
        super().__init__(400, "invalid_archive", message,
                         {"field": "scene", "member": member})


def _clean_name(name):
    """The member's normalised relative path, or ArchiveRejected."""
    if not name or "\x00" in name or "\\" in name:
        raise ArchiveRejected("member names must be non-empty POSIX paths", name)
    if name.startswith("/"):
        raise ArchiveRejected("absolute paths are not allowed", name)
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveRejected("'..' is not allowed in member names", name)
    return "/".join(parts)


def _check_link_target(name, target):
    """A symbolic link must resolve inside the archive's root."""
    if not target or target.startswith("/") or "\x00" in target or "\\" in target:
        raise ArchiveRejected("links must be relative and stay inside the scene", name)
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    if resolved == ".." or resolved.startswith("../"):
        raise ArchiveRejected("links must stay inside the scene", name)


class _Budget:
    def __init__(self, max_members, max_bytes):
        self.max_members, self.max_bytes = max_members, max_bytes
        self.members = self.size = 0

    def add(self, name, size):
        self.members += 1
        self.size += max(size, 0)
        if self.members > self.max_members:
            raise ArchiveRejected(f"the archive has more than {self.max_members} members")
        if self.size > self.max_bytes:
            raise ArchiveRejected(f"the archive unpacks to more than {self.max_bytes} bytes",
                                  name)


def check_tar_gz(path, max_members, max_bytes):
    budget = _Budget(max_members, max_bytes)
    names = set()
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            for member in archive:
                name = _clean_name(member.name)
                budget.add(name, member.size)
                if member.issym():
                    _check_link_target(name, member.linkname)
                elif member.islnk():
                    # A hard link points at an earlier member of the same archive.
                    target = _clean_name(member.linkname)
                    if target not in names:
                        raise ArchiveRejected("hard links must point at an earlier member",
                                              name)
                elif not (member.isreg() or member.isdir()):
                    raise ArchiveRejected("only files, directories and links are allowed",
                                          name)
                names.add(name)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ArchiveRejected(f"not a readable .tar.gz archive: {error}") from None
    return names


def check_zip(path, max_members, max_bytes):
    budget = _Budget(max_members, max_bytes)
    names = set()
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = _clean_name(info.filename)
                budget.add(name, info.file_size)
                # Zips made elsewhere often carry only permission bits (no file type):
                # those are plain files or directories.
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    if info.file_size > MAX_LINK_TARGET:
                        raise ArchiveRejected("link target too long", name)
                    target = archive.read(info).decode("utf-8", "replace")
                    _check_link_target(name, target)
                elif stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    raise ArchiveRejected("only files, directories and links are allowed",
                                          name)
                names.add(name)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as error:
        raise ArchiveRejected(f"not a readable .zip archive: {error}") from None
    return names


def check(path, kind, max_members, max_bytes):
    """Check an uploaded archive of ``kind`` ("tar.gz" or "zip") at ``path``."""
    checker = check_tar_gz if kind == "tar.gz" else check_zip
    names = checker(path, max_members, max_bytes)
    if SCENE_FILE not in names:
        raise ArchiveRejected(f"the archive must hold {SCENE_FILE} at its top level")


def kind_of(filename):
    """The scene kind named by an upload's file name: pov, tar.gz or zip."""
    lowered = (filename or "").lower()
    if lowered.endswith(".pov"):
        return "pov"
    if lowered.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    if lowered.endswith(".zip"):
        return "zip"
    raise ApiError(400, "invalid_field", "scene: must be a .pov file or a .tar.gz/.zip "
                   "archive holding scene.pov", {"field": "scene"})
