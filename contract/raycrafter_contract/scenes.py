"""What a scene is: the one rule the API applies when a scene is submitted and the worker
applies when it unpacks it, so that nothing the API accepts can fail later in the worker.

A scene is a single ``.pov`` file, or an archive of a folder (``.tar``, ``.tar.gz``/``.tgz``,
``.tar.bz2``/``.tbz2``, ``.tar.xz``/``.txz``, ``.zip``) holding the main scene file and
whatever it includes. The archives people make are all accepted: a folder archived with or
without its top folder (a single top folder holding everything is taken off), ``tar -C dir
.`` (``./`` names), files listed one by one (folders without entries of their own),
subfolders, any UTF-8 file names without control characters, zip members stored or
compressed with deflate, bzip2 or LZMA. Symbolic and hard links are unpacked as copies of
the file they point at inside the scene; anything else (devices, pipes, sparse files, links
to folders or outside, ``..``, encrypted members, other zip methods) is refused with a
message naming the member.

Every check streams and is bounded before it costs anything: the number of members, each
member's header, and each file's size as its header gives it are checked against what is
left of the scene's budget (``max_bytes``, and ``max_ratio`` times the archive's own size)
before its bytes are decompressed; the bytes are then decompressed in bounded steps, and a
member that would unpack to more than its header said is refused as soon as the excess
appears (decompression.py, tar_reading.py, zip_reading.py). Memory stays bounded whatever
the upload claims.
"""
import dataclasses
import os
import posixpath
import shutil

from . import tar_reading, zip_reading
from .archive_members import FILE, FOLDER, HARDLINK, SYMLINK, OverBound, Unreadable
from .decompression import CHUNK
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

# A link's target is its data in a zip: read (and so bounded) before the link is known.
_MAX_LINK_TARGET = 4096
_MAX_LINK_HOPS = 32
INI_SUFFIX = ".ini"
# INI files are kept in memory for what they say; larger ones are not POV-Ray settings.
MAX_INI_BYTES = 64 * 1024
MAX_INI_FILES = 16
# The main scene file's name is kept with the job (a 255-character column).
MAX_MAIN_FILE_BYTES = 255


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
    with open(path, "rb") as handle:
        return _read(handle, os.path.getsize(path), kind, limits, scene_file, upload_name,
                     target=None)[0]


def unpack(path, kind, target, limits=SceneLimits(), scene_file=None, upload_name=None):
    """Check the scene at ``path`` and unpack it into the new directory ``target``: regular
    files (mode 0644, or 0755 when executable) and folders (0755) only. Nothing is left at
    ``target`` when it is refused."""
    with open(path, "rb") as handle:
        return unpack_from(handle, os.path.getsize(path), kind, target, limits, scene_file,
                           upload_name)


def unpack_from(handle, size, kind, target, limits=SceneLimits(), scene_file=None,
                upload_name=None):
    """``unpack`` for a scene of ``size`` bytes read from the binary file ``handle``. A tar
    of any compression is read forward only, never sought in, so ``handle`` may be a pipe
    or a network stream (the worker sends scenes to the cluster's login node this way); a
    .zip (its directory is at its end) and a single .pov file need a seekable one. Nothing
    is read past ``size``."""
    if os.path.lexists(target):
        raise FileExistsError(target)
    partial = target + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    try:
        scene, top = _read(handle, size, kind, limits, scene_file, upload_name,
                           target=partial)
        os.rename(os.path.join(partial, top) if top else partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return scene


def _read(handle, size, kind, limits, scene_file, upload_name, target):
    """(Scene, the top folder taken off or None)."""
    if kind == "pov":
        return _single_file(handle, size, limits, scene_file, upload_name, target), None
    if kind not in ARCHIVE_KINDS:
        raise SceneRejected("unknown scene kind %r" % (kind,))
    tree = _Tree(limits, size, target)
    members = (zip_reading.members(handle, limits, _MAX_LINK_TARGET) if kind == "zip"
               else tar_reading.members(_Bounded(handle, size), kind))
    try:
        for member in members:
            _add(tree, member)
    except Unreadable as error:
        if error.member is None and not isinstance(error, OverBound):
            raise SceneRejected("not a readable .%s archive: %s" % (kind, error.reason)
                                ) from None
        member = None if error.member is None else _printable(error.member)
        raise SceneRejected(error.reason, member) from None
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


def _add(tree, member):
    """Check one archive member by the rule and add it to ``tree``."""
    label = _printable(member.name)
    tree.count(label)
    name = clean_name(member.name, tree.limits, label)
    if not name:
        return  # "./" or "/": the scene's own root
    if member.kind == FOLDER:
        tree.claim(name, "dir", label)
    elif member.kind == SYMLINK:
        tree.add_link(name, _link_target(name, member.link_target, label, tree.limits), label)
    elif member.kind == HARDLINK:
        tree.add_link(name, clean_name(member.link_target, tree.limits, label), label)
    elif member.kind == FILE:
        tree.add_file(name, member, label)
    else:
        raise SceneRejected("only files, folders and links may be in a scene", label)


def _single_file(handle, size, limits, scene_file, upload_name, target):
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
        with open(destination, "wb") as out:
            source = _Bounded(handle, size)
            while True:
                chunk = source.read(CHUNK)
                if not chunk:
                    break
                out.write(chunk)
        os.chmod(destination, 0o644)
    return Scene("pov", (main,), main, size)


class _Bounded:
    """The first ``size`` bytes of a binary file: what follows a scene in a stream is not
    the scene's."""

    def __init__(self, handle, size):
        self._handle = handle
        self._left = size

    def read(self, count=-1):
        count = self._left if count is None or count < 0 else min(count, self._left)
        data = self._handle.read(count) if count else b""
        self._left -= len(data)
        return data


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

    def reserve(self, count, label):
        """Refuse a member whose ``count`` bytes would take the scene past its budget,
        before any of them is decompressed."""
        self._check(self.unpacked + count, label)

    def add_bytes(self, count, label):
        self.unpacked += count
        self._check(self.unpacked, label)

    def _check(self, unpacked, label):
        if unpacked > self.limits.max_bytes:
            raise SceneRejected("the scene unpacks to more than %d bytes"
                                % self.limits.max_bytes, label)
        if (unpacked > self.limits.ratio_floor
                and unpacked > self.limits.max_ratio * self.archive_size):
            raise SceneRejected("the archive unpacks to more than %d times its own size"
                                % self.limits.max_ratio, label)

    def claim(self, name, kind, label):
        """Record ``name`` as ``kind``; its parents become folders, on disk too when
        unpacking (an archive need not hold an entry for each folder)."""
        parts = name.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if self.kinds.setdefault(parent, "dir") != "dir":
                raise SceneRejected("%s is both a file and a folder" % parent, label)
        existing = self.kinds.get(name)
        if existing is not None and not (existing == kind == "dir"):
            raise SceneRejected("the archive holds this name twice", label)
        self.kinds[name] = kind
        if self.target is not None:
            folder = name if kind == "dir" else posixpath.dirname(name)
            os.makedirs(self.local(folder), mode=0o755, exist_ok=True)

    def local(self, name):
        return os.path.join(self.target, *name.split("/"))

    def add_file(self, name, member, label):
        self.claim(name, "file", label)
        self.reserve(member.size, label)
        kept = bytearray() if name.lower().endswith(INI_SUFFIX) else None
        if self.target is None:
            self._copy(member, None, label, kept)
        else:
            destination = self.local(name)
            with open(destination, "wb") as out:
                self._copy(member, out, label, kept)
            os.chmod(destination, 0o755 if member.executable else 0o644)
        self.sizes[name] = member.size
        if kept is not None and member.size <= MAX_INI_BYTES and (
                len(self.ini_files) < MAX_INI_FILES):
            self.ini_files[name] = kept.decode("utf-8", "replace")

    def _copy(self, member, out, label, kept):
        for chunk in member.chunks():
            self.add_bytes(len(chunk), label)
            if out is not None:
                out.write(chunk)
            if kept is not None and len(kept) <= MAX_INI_BYTES:
                kept += chunk[:MAX_INI_BYTES + 1 - len(kept)]

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
