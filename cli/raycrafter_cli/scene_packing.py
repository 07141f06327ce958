"""Turning the SCENE argument into the upload the API expects.

A ``.pov`` file goes up as it is, under its own name; a ready archive too (``.tar``,
``.tar.gz``/``.tgz``, ``.tar.bz2``, ``.tar.xz``, ``.zip``: the API checks it by the
contract's scene rule). A directory is packed into a temporary ``.tar.gz`` under the
files' own relative names, so ``#include "inc/colors.inc"`` finds its file; links are
followed, and hidden files and directories (``.git``) are left out. Its main file is
chosen here by the same rule the API applies (``--scene-file``, else ``scene.pov``, else
the only ``.pov`` at the top), so a wrong choice is said before anything is uploaded.
"""
import contextlib
import dataclasses
import os
import tarfile
import tempfile
from typing import BinaryIO, Optional

from raycrafter_contract import scenes

from . import exit_codes
from .errors import CliError


class SceneError(CliError):
    def __init__(self, message):
        super().__init__(message, exit_codes.USAGE)


@dataclasses.dataclass
class Scene:
    filename: str
    file: BinaryIO
    size: int
    files: int  # how many files it holds
    main_file: Optional[str]  # None: the API chooses it inside an archive


def default_job_name(path):
    """The scene's name without its ending: ``teapot.pov`` and ``teapot/`` give teapot."""
    name = os.path.basename(os.path.normpath(os.path.abspath(path)))
    for ending in scenes.ACCEPTED_ENDINGS:
        if name.lower().endswith(ending):
            return name[:-len(ending)] or name
    return name


@contextlib.contextmanager
def packed(path, scene_file=None):
    """The upload for ``path`` while the context lasts (a directory's archive is a
    temporary file, removed afterwards)."""
    if os.path.isdir(path):
        members = sorted(_visible_files(path), key=lambda member: member[1])
        try:
            main = scenes.main_file([name for _, name in members], scene_file=scene_file)
        except scenes.SceneRejected as error:
            raise SceneError(f"{path}: {error}") from None
        with tempfile.TemporaryFile() as archive:
            _pack(members, archive)
            size = archive.tell()
            archive.seek(0)
            yield Scene("scene.tar.gz", archive, size, len(members), main)
    elif os.path.isfile(path):
        with _open(path) as upload:
            yield Scene(_upload_name(path), upload, os.fstat(upload.fileno()).st_size, 1,
                        scene_file)
    else:
        raise SceneError(f"{path}: no such file or directory")


def _upload_name(path):
    """The file's own name, which the API reads the scene's kind (and a lone .pov file's
    name) from; a name that cannot travel in a form header goes as ``scene`` plus its
    ending."""
    try:
        kind = scenes.kind_of(path)
    except scenes.SceneRejected as error:
        raise SceneError(f"{path}: {error}, or a directory holding the scene") from None
    name = os.path.basename(path)
    if all(" " <= c <= "~" for c in name) and '"' not in name:
        return name
    ending = next(e for e in dict(scenes.KINDS)[kind] if name.lower().endswith(e))
    return "scene" + ending


def _open(path):
    try:
        return open(path, "rb")
    except OSError as error:
        raise SceneError(f"cannot read {path}: {error.strerror}") from None


def _pack(members, archive):
    """Write (path, name in the archive) pairs as .tar.gz into ``archive``."""
    with tarfile.open(fileobj=archive, mode="w:gz", dereference=True) as tar:
        for full, name in members:
            try:
                tar.add(full, arcname=name, recursive=False)
            except OSError as error:
                raise SceneError(f"cannot pack {full}: {error.strerror}") from None


def _visible_files(directory):
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
