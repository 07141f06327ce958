"""Turning the SCENE argument into the upload the API expects.

A ``.pov`` file goes up as it is; a ready ``.tar.gz``/``.tgz``/``.zip`` archive too (the
API checks that it holds ``scene.pov``). A directory is packed into a temporary
``.tar.gz`` with its scene at the top as ``scene.pov``: the directory's ``scene.pov``, or
else its only top-level ``.pov`` file. Every other file goes in under its relative path,
so ``#include "inc/colors.inc"`` finds it; links are followed, and hidden files and
directories (``.git``) are left out.
"""
import contextlib
import dataclasses
import os
import tarfile
import tempfile
from typing import BinaryIO

from . import exit_codes
from .errors import CliError

SCENE_FILE = "scene.pov"
# Upload names the API reads the scene's kind from; the user's own names stay local.
UPLOAD_NAMES = {".pov": "scene.pov", ".tar.gz": "scene.tar.gz", ".tgz": "scene.tar.gz",
                ".zip": "scene.zip"}


class SceneError(CliError):
    def __init__(self, message):
        super().__init__(message, exit_codes.USAGE)


@dataclasses.dataclass
class Scene:
    filename: str
    file: BinaryIO
    size: int
    files: int  # how many files it holds


def default_job_name(path):
    """The scene's name without its suffix: ``teapot.pov`` and ``teapot/`` give teapot."""
    name = os.path.basename(os.path.normpath(os.path.abspath(path)))
    for suffix in UPLOAD_NAMES:
        if name.lower().endswith(suffix):
            return name[:-len(suffix)] or name
    return name


@contextlib.contextmanager
def packed(path):
    """The upload for ``path`` while the context lasts (a directory's archive is a
    temporary file, removed afterwards)."""
    if os.path.isdir(path):
        scene = scene_of(path)
        with tempfile.TemporaryFile() as archive:
            count = _pack(path, scene, archive)
            size = archive.tell()
            archive.seek(0)
            yield Scene("scene.tar.gz", archive, size, count)
    elif os.path.isfile(path):
        with _open(path) as upload:
            yield Scene(_upload_name(path), upload, os.fstat(upload.fileno()).st_size, 1)
    else:
        raise SceneError(f"{path}: no such file or directory")


def _upload_name(path):
    lowered = path.lower()
    for suffix, name in UPLOAD_NAMES.items():
        if lowered.endswith(suffix):
            return name
    raise SceneError(f"{path}: a scene is a .pov file, a directory holding one, or a "
                     f".tar.gz/.zip archive holding {SCENE_FILE}")


def _open(path):
    try:
        return open(path, "rb")
    except OSError as error:
        raise SceneError(f"cannot read {path}: {error.strerror}") from None


def scene_of(directory):
    """The name of the directory's top-level scene file, or SceneError."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as error:
        raise SceneError(f"cannot read {directory}: {error.strerror}") from None
    scenes = [n for n in names if n.lower().endswith(".pov")
              and os.path.isfile(os.path.join(directory, n))]
    if SCENE_FILE in scenes:
        return SCENE_FILE
    if len(scenes) == 1:
        return scenes[0]
    if not scenes:
        raise SceneError(f"{directory} has no .pov file at its top level; "
                         f"put the scene there as {SCENE_FILE}")
    raise SceneError(f"{directory} has several .pov files ({', '.join(scenes)}) and no "
                     f"{SCENE_FILE}; rename the one to render to {SCENE_FILE}")


def _pack(directory, scene, archive):
    """Write the directory as .tar.gz into ``archive``; returns the number of files."""
    members = [(os.path.join(directory, scene), SCENE_FILE)]
    members += [(full, name) for full, name in _assets(directory) if name != scene]
    with tarfile.open(fileobj=archive, mode="w:gz", dereference=True) as tar:
        for full, name in members:
            try:
                tar.add(full, arcname=name, recursive=False)
            except OSError as error:
                raise SceneError(f"cannot pack {full}: {error.strerror}") from None
    return len(members)


def _assets(directory):
    """(path, name in the archive) of every visible regular file under ``directory``."""
    seen = set()
    for root, dirs, files in os.walk(directory, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a link loop, or a directory linked twice
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        relative = os.path.relpath(root, directory)
        for name in sorted(files):
            full = os.path.join(root, name)
            if name.startswith(".") or not os.path.isfile(full):
                continue
            parts = [] if relative == os.curdir else relative.split(os.sep)
            yield full, "/".join(parts + [name])
