"""What a scene is: the one rule the API applies when a scene is submitted and the worker
applies when it unpacks it, so that nothing the API accepts can fail later in the worker.

A scene is a single ``.pov`` file, or an archive of a folder (``.tar``, ``.tar.gz``/``.tgz``,
``.tar.bz2``/``.tbz2``, ``.tar.xz``/``.txz``, ``.zip``) holding the main scene file and
whatever it includes. The archives people make are all accepted: a folder archived with or
without its top folder (a single top folder holding everything is taken off), ``tar -C dir
.`` (``./`` names), subfolders, any UTF-8 file names without control characters.
Symbolic and hard links are unpacked as copies of the file they point at inside the
scene; anything else (devices, pipes, links to folders or outside, ``..``, encrypted or
unknown zip compression) is refused with a message naming the member.

Every check streams: the archive is read once, members are counted, names measured, and
the bytes really unpacked (not the sizes the archive claims) added up as they come, so
memory and CPU stay bounded whatever the upload, and a decompression bomb stops as soon
as it passes ``max_bytes`` or ``max_ratio`` times the archive's own size.
"""
import bz2
import dataclasses
import gzip
import io
import lzma
import os
import posixpath
import shutil
import stat
import struct
import tarfile
import zipfile
import zlib

from .naming import DEFAULT_SCENE_FILE, SCENE_SUFFIX

# (kind, file name endings), longest endings first so ``.tar.gz`` is not taken for ``.gz``.
KINDS = (
    ("tar.gz", (".tar.gz", ".tgz")),
    ("tar.bz2", (".tar.bz2", ".tbz2", ".tbz")),
    ("tar.xz", (".tar.xz", ".txz")),
    ("tar", (".tar",)),
    ("zip", (".zip",)),
    ("pov", (SCENE_SUFFIX,)),
)
ARCHIVE_KINDS = tuple(kind for kind, _ in KINDS if kind != "pov")
ACCEPTED_ENDINGS = tuple(ending for _, endings in KINDS for ending in endings)

_DECOMPRESSORS = {"tar.gz": gzip.GzipFile, "tar.bz2": bz2.BZ2File, "tar.xz": lzma.LZMAFile}
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_COPY_CHUNK = 64 * 1024
# tarfile reads a member's header (pax records, GNU long names) in one piece: a larger one
# is refused rather than held in memory.
_MAX_HEADER_BYTES = 1024 * 1024
_MAX_LINK_TARGET = 4096
_MAX_LINK_HOPS = 32
INI_SUFFIX = ".ini"
# INI files are kept in memory for what they say; larger ones are not POV-Ray settings.
MAX_INI_BYTES = 64 * 1024
MAX_INI_FILES = 16
# The main scene file's name is kept with the job (a 255-character column).
MAX_MAIN_FILE_BYTES = 255
_UNREADABLE = (tarfile.TarError, zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError,
               lzma.LZMAError, zlib.error, NotImplementedError, UnicodeDecodeError,
               RuntimeError, ValueError)


class SceneRejected(ValueError):
    """The scene cannot be accepted; ``str()`` says why in words a user can act on."""

    def __init__(self, message, member=None, field="scene"):
        super().__init__(message if member is None else "%s: %s" % (member, message))
        self.reason = message
        self.member = member
        self.field = field  # the request field at fault: "scene" or "scene_file"


@dataclasses.dataclass(frozen=True)
class SceneLimits:
    """Bounds on what one scene may unpack to; the API and the worker get the same values
    from the same configuration key."""

    max_members: int = 2000
    max_bytes: int = 2 * 1024 ** 3
    # Unpacked bytes per byte of archive; checked once a scene passes ``ratio_floor``, so
    # small, very compressible text scenes are never refused for it.
    max_ratio: int = 200
    ratio_floor: int = 64 * 1024 ** 2
    max_name_bytes: int = 1024
    max_name_part_bytes: int = 255
    max_depth: int = 32


@dataclasses.dataclass(frozen=True)
class Scene:
    """What a checked scene holds: its files (relative names, links included as the copies
    they unpack to), the main scene file, the bytes it unpacks to, and the text of its
    POV-Ray INI files (for the animation and settings they give)."""

    kind: str
    files: tuple
    main_file: str
    unpacked_bytes: int
    ini_files: dict = dataclasses.field(default_factory=dict)  # name -> text


def kind_of(filename):
    """The scene kind named by a file name's ending, or SceneRejected."""
    lowered = (filename or "").lower()
    for kind, endings in KINDS:
        if lowered.endswith(endings):
            return kind
    raise SceneRejected("a scene is a .pov file or an archive (%s)"
                        % ", ".join(e for e in ACCEPTED_ENDINGS if e != SCENE_SUFFIX))


def clean_name(name, limits=SceneLimits(), member=None, field="scene"):
    """``name`` as a normalised relative path inside the scene, or SceneRejected.

    A leading ``/`` and ``.`` parts are dropped (as GNU tar and unzip do when they
    extract); ``..``, NUL, control characters and names longer than the cluster's file
    system allows are refused.
    """
    label = member if member is not None else name
    if not isinstance(name, str) or not name:
        raise SceneRejected("an empty name is not a file name", label, field)
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        raise SceneRejected("the name is not valid UTF-8", _printable(name), field) from None
    if any(ord(c) < 0x20 or ord(c) == 0x7f for c in name):
        raise SceneRejected("names may not hold control characters", _printable(name), field)
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SceneRejected("'..' is not allowed in names", label, field)
    if len(encoded) > limits.max_name_bytes:
        raise SceneRejected("the name is longer than %d bytes" % limits.max_name_bytes, label,
                            field)
    if any(len(p.encode("utf-8")) > limits.max_name_part_bytes for p in parts):
        raise SceneRejected("a part of the name is longer than %d bytes"
                            % limits.max_name_part_bytes, label, field)
    if len(parts) > limits.max_depth:
        raise SceneRejected("folders nest deeper than %d" % limits.max_depth, label, field)
    return "/".join(parts)


def inspect(path, kind, limits=SceneLimits(), scene_file=None, upload_name=None):
    """Check the scene at ``path`` without writing anything; returns its Scene."""
    return _read(path, kind, limits, scene_file, upload_name, target=None)[0]


def unpack(path, kind, target, limits=SceneLimits(), scene_file=None, upload_name=None):
    """Check the scene at ``path`` and unpack it into the new directory ``target``: regular
    files (mode 0644, or 0755 when executable) and folders (0755) only. Nothing is left at
    ``target`` when it is refused."""
    if os.path.lexists(target):
        raise FileExistsError(target)
    partial = target + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    try:
        scene, top = _read(path, kind, limits, scene_file, upload_name, target=partial)
        os.rename(os.path.join(partial, top) if top else partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return scene


def _read(path, kind, limits, scene_file, upload_name, target):
    """(Scene, the top folder taken off or None)."""
    size = os.path.getsize(path)
    if kind == "pov":
        return _single_file(path, size, limits, scene_file, upload_name, target), None
    if kind not in ARCHIVE_KINDS:
        raise SceneRejected("unknown scene kind %r" % (kind,))
    tree = _Tree(limits, size, target)
    try:
        if kind == "zip":
            _read_zip(path, tree)
        else:
            _read_tar(path, kind, tree)
    except SceneRejected:
        raise
    except _UNREADABLE as error:
        raise SceneRejected("not a readable .%s archive: %s" % (kind, error)) from None
    tree.resolve_links()
    files = tree.files()
    top = _top_folder_of(files, tree)
    ini_files = tree.ini_files
    if top:
        files = tuple(name[len(top) + 1:] for name in files)
        ini_files = {name[len(top) + 1:]: text for name, text in ini_files.items()}
        # The user may name the main file as it sits in the archive, top folder included.
        requested = clean_name(scene_file, limits, None, "scene_file") if scene_file else ""
        if requested.startswith(top + "/") and requested not in files:
            scene_file = requested[len(top) + 1:]
    main = main_file(files, limits, scene_file)
    return Scene(kind, files, main, tree.unpacked, ini_files), top


def _single_file(path, size, limits, scene_file, upload_name, target):
    if size > limits.max_bytes:
        raise SceneRejected("the scene is larger than %d bytes" % limits.max_bytes)
    if scene_file:
        main = check_main_file(clean_name(scene_file, limits, None, "scene_file"))
    else:
        # The user's own file name, where POV-Ray can start from it.
        base = posixpath.basename((upload_name or "").replace("\\", "/"))
        try:
            main = check_main_file(base) if base.lower().endswith(SCENE_SUFFIX) else ""
        except SceneRejected:
            main = ""
        main = main or DEFAULT_SCENE_FILE
    if target is not None:
        destination = os.path.join(target, *main.split("/"))
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copyfile(path, destination)
        os.chmod(destination, 0o644)
    return Scene("pov", (main,), main, size)


class _Tree:
    """The members seen so far, their kinds, and the byte and member budget."""

    def __init__(self, limits, archive_size, target):
        self.limits = limits
        self.archive_size = max(archive_size, 1)
        self.target = target
        self.kinds = {}  # name -> "file" | "dir" | "link"
        self.links = {}  # name -> (target name inside the scene, member label)
        self.sizes = {}  # name -> bytes really unpacked
        self.ini_files = {}  # name -> text of the small .ini files
        self.members = 0
        self.unpacked = 0

    def count(self, label):
        self.members += 1
        if self.members > self.limits.max_members:
            raise SceneRejected("the archive holds more than %d members"
                                % self.limits.max_members)

    def add_bytes(self, count, label):
        self.unpacked += count
        if self.unpacked > self.limits.max_bytes:
            raise SceneRejected("the scene unpacks to more than %d bytes"
                                % self.limits.max_bytes, label)
        if (self.unpacked > self.limits.ratio_floor
                and self.unpacked > self.limits.max_ratio * self.archive_size):
            raise SceneRejected("the archive unpacks to more than %d times its own size"
                                % self.limits.max_ratio, label)

    def claim(self, name, kind, label):
        """Record ``name`` as ``kind``; its parents become folders."""
        parts = name.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if self.kinds.setdefault(parent, "dir") != "dir":
                raise SceneRejected("%s is both a file and a folder" % parent, label)
        existing = self.kinds.get(name)
        if existing is not None and not (existing == kind == "dir"):
            raise SceneRejected("the archive holds this name twice", label)
        self.kinds[name] = kind
        if kind == "dir" and self.target is not None:
            os.makedirs(self.local(name), mode=0o755, exist_ok=True)

    def local(self, name):
        return os.path.join(self.target, *name.split("/"))

    def add_file(self, name, stream, executable, label):
        self.claim(name, "file", label)
        kept = io.BytesIO() if name.lower().endswith(INI_SUFFIX) else None
        if self.target is None:
            self.sizes[name] = self._copy(stream, None, label, kept)
        else:
            destination = self.local(name)
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            with open(destination, "wb") as out:
                self.sizes[name] = self._copy(stream, out, label, kept)
            os.chmod(destination, 0o755 if executable else 0o644)
        if kept is not None and self.sizes[name] <= MAX_INI_BYTES and (
                len(self.ini_files) < MAX_INI_FILES):
            self.ini_files[name] = kept.getvalue().decode("utf-8", "replace")

    def _copy(self, stream, out, label, kept):
        copied = 0
        while True:
            chunk = stream.read(_COPY_CHUNK)
            if not chunk:
                return copied
            copied += len(chunk)
            self.add_bytes(len(chunk), label)
            if out is not None:
                out.write(chunk)
            if kept is not None and kept.tell() <= MAX_INI_BYTES:
                kept.write(chunk[:MAX_INI_BYTES + 1 - kept.tell()])

    def add_link(self, name, target_name, label):
        self.claim(name, "link", label)
        self.links[name] = (target_name, label)

    def resolve_links(self):
        """Turn every link into a copy of the regular file it ends at."""
        for name, (target_name, label) in sorted(self.links.items()):
            final = self._final_target(target_name, label)
            self.add_bytes(self.sizes[final], label)
            self.sizes[name] = self.sizes[final]
            if self.target is not None:
                shutil.copyfile(self.local(final), self.local(name))
                shutil.copymode(self.local(final), self.local(name))
        for name in self.links:
            self.kinds[name] = "file"

    def _final_target(self, target_name, label):
        for _ in range(_MAX_LINK_HOPS):
            kind = self.kinds.get(target_name)
            if kind == "file":
                return target_name
            if kind == "dir":
                raise SceneRejected("links to folders are not supported: archive the folder "
                                    "itself", label)
            if kind is None:
                raise SceneRejected("the link points at %s, which is not in the scene"
                                    % target_name, label)
            target_name = self.links[target_name][0]
        raise SceneRejected("the link goes round in circles", label)

    def files(self):
        return tuple(sorted(name for name, kind in self.kinds.items() if kind == "file"))


def _link_target(link_name, target, label, limits):
    """The scene name a symbolic link at ``link_name`` points at, or SceneRejected."""
    if not target or target.startswith("/"):
        raise SceneRejected("links must be relative and stay inside the scene", label)
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(link_name), target))
    if joined == ".." or joined.startswith("../"):
        raise SceneRejected("links must stay inside the scene", label)
    return clean_name(joined, limits, label)


class _HeaderGuard:
    """A file object over the decompressed tar stream that refuses the one-piece header
    reads tarfile makes for pax records and long names once they pass _MAX_HEADER_BYTES."""

    def __init__(self, stream):
        self._stream = stream

    def read(self, size=-1):
        if size is None or size < 0 or size > _MAX_HEADER_BYTES:
            raise SceneRejected("a member's header is larger than %d bytes" % _MAX_HEADER_BYTES)
        return self._stream.read(size)

    def seek(self, offset, whence=0):
        # tarfile only ever skips forward over one pass; going back would make the
        # decompressor start again from the first byte.
        if whence != os.SEEK_SET or offset < self._stream.tell():
            raise SceneRejected("the archive cannot be read in one pass")
        return self._stream.seek(offset, whence)

    def tell(self):
        return self._stream.tell()


def _read_tar(path, kind, tree):
    limits = tree.limits
    with open(path, "rb") as raw:
        decompressor = _DECOMPRESSORS.get(kind)
        stream = decompressor(fileobj=raw) if kind == "tar.gz" else (
            decompressor(raw) if decompressor else raw)
        with stream, tarfile.open(fileobj=_HeaderGuard(stream), mode="r:",
                                  encoding="utf-8", errors="surrogateescape") as archive:
            while True:
                member = archive.next()
                if member is None:
                    break
                label = _printable(member.name)
                tree.count(label)
                name = clean_name(member.name, limits, label)
                if not name:
                    continue  # "./" or "/": the scene's own root
                if member.isdir():
                    tree.claim(name, "dir", label)
                elif member.issym():
                    tree.add_link(name, _link_target(name, member.linkname, label, limits),
                                  label)
                elif member.islnk():
                    tree.add_link(name, clean_name(member.linkname, limits, label), label)
                elif member.isreg() and not member.issparse():
                    with archive.extractfile(member) as data:
                        tree.add_file(name, data, member.mode & 0o100, label)
                else:
                    raise SceneRejected("only files, folders and links may be in a scene",
                                        label)
                archive.members.clear()  # nothing refers back to earlier members


def _read_zip(path, tree):
    limits = tree.limits
    with open(path, "rb") as handle:
        entries, directory_size = _zip_directory(handle)
    if entries > limits.max_members:
        raise SceneRejected("the archive holds more than %d members" % limits.max_members)
    if directory_size > limits.max_members * 2 * (46 + limits.max_name_bytes) + 65536:
        raise SceneRejected("the archive's central directory is larger than its members "
                            "can need")
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            original = _zip_name(info)
            label = _printable(original)
            tree.count(label)
            name = clean_name(original, limits, label)
            if not name:
                continue
            if info.flag_bits & 0x1:
                raise SceneRejected("encrypted zip members cannot be unpacked", label)
            if info.compress_type not in _ZIP_METHODS:
                raise SceneRejected("zip compression method %d is not supported (use "
                                    "deflate)" % info.compress_type, label)
            mode = info.external_attr >> 16 if info.create_system == 3 else 0
            if info.is_dir() or stat.S_ISDIR(mode):
                tree.claim(name, "dir", label)
            elif stat.S_ISLNK(mode):
                if info.file_size > _MAX_LINK_TARGET:
                    raise SceneRejected("the link's target is too long", label)
                target = archive.read(info).decode("utf-8")
                tree.add_link(name, _link_target(name, target, label, limits), label)
            elif stat.S_IFMT(mode) in (0, stat.S_IFREG):
                with archive.open(info) as data:
                    tree.add_file(name, data, mode & 0o100, label)
            else:
                raise SceneRejected("only files, folders and links may be in a scene", label)


def _zip_name(info):
    """The member's name as its maker meant it. Info-ZIP's zip writes UTF-8 names without
    the flag that says so, and zipfile then reads them as cp437: take such a name as UTF-8
    when its bytes are UTF-8, as unzip does. The name before zipfile cut it at a NUL."""
    if info.flag_bits & 0x800:
        return info.orig_filename
    raw = info.orig_filename.encode("cp437")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return info.orig_filename


def _zip_directory(handle):
    """(entries, central directory size) from the end records, read before zipfile builds
    an object per entry, so a crafted count is refused before it costs memory."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    tail_size = min(size, 22 + 65535)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    position = tail.rfind(b"PK\x05\x06")
    if position < 0 or len(tail) < position + 22:
        raise SceneRejected("not a readable .zip archive: no end of central directory")
    entries, directory_size = struct.unpack("<HI", tail[position + 10:position + 16])
    if entries == 0xFFFF or directory_size == 0xFFFFFFFF:
        locator = position - 20
        if locator < 0 or tail[locator:locator + 4] != b"PK\x06\x07":
            raise SceneRejected("not a readable .zip archive: a broken zip64 record")
        offset = struct.unpack("<Q", tail[locator + 8:locator + 16])[0]
        handle.seek(offset)
        record = handle.read(56)
        if len(record) < 56 or record[:4] != b"PK\x06\x06":
            raise SceneRejected("not a readable .zip archive: a broken zip64 record")
        entries, directory_size = struct.unpack("<QQ", record[32:48])
    return entries, directory_size


def _top_folder_of(files, tree):
    """The one folder holding everything, when the archive was made with its top folder
    (``tar -czf s.tgz myscene``) and nothing else sits beside it."""
    tops = {name.split("/", 1)[0] for name in tree.kinds}
    if len(tops) == 1:
        top = next(iter(tops))
        if tree.kinds.get(top) == "dir" and files:
            return top
    return None


def main_file(files, limits=SceneLimits(), scene_file=None):
    """The file POV-Ray starts from among ``files`` (relative names): the one the user
    named, else scene.pov, else the only .pov file at the top of the scene."""
    if scene_file:
        name = clean_name(scene_file, limits, None, "scene_file")
        if name not in files:
            raise SceneRejected("the scene holds no file %s" % name, None, "scene_file")
        return check_main_file(name)
    if DEFAULT_SCENE_FILE in files:
        return DEFAULT_SCENE_FILE
    top = [name for name in files if "/" not in name and name.lower().endswith(SCENE_SUFFIX)]
    if len(top) == 1:
        return check_main_file(top[0])
    if not top:
        raise SceneRejected("the scene has no %s file at its top; put the main scene there "
                            "or name it with scene_file" % SCENE_SUFFIX)
    raise SceneRejected("the scene has several %s files at its top (%s) and no %s; name the "
                        "one to render with scene_file"
                        % (SCENE_SUFFIX, ", ".join(sorted(top)), DEFAULT_SCENE_FILE))


def check_main_file(name):
    """``name`` if POV-Ray can be started on it, else SceneRejected.

    POV-Ray 3.7 cuts a command-line file name at its first non-ASCII character and has no
    way to quote a double quote, so the main file (not the files it includes) is held to
    printable ASCII without ``"``; spaces are fine, the renderer quotes the name.
    """
    if clean_name(name, SceneLimits(), None, "scene_file") != name:
        raise SceneRejected("not a plain relative name", name, "scene_file")
    if len(name.encode("utf-8")) > MAX_MAIN_FILE_BYTES:
        raise SceneRejected("the main scene file's name is longer than %d bytes"
                            % MAX_MAIN_FILE_BYTES, name, "scene_file")
    if not all(" " <= c <= "~" for c in name) or '"' in name:
        raise SceneRejected("POV-Ray can only start from a file whose name is printable "
                            "ASCII without '\"'; rename the main scene file", name,
                            "scene_file")
    return name


def _printable(name):
    """A member name safe to show in a message (undecodable bytes and controls escaped)."""
    text = name if isinstance(name, str) else repr(name)
    return text if text.isprintable() else repr(text)[1:-1]
