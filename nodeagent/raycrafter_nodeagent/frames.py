"""Where a frame's files live in the job's scratch directory, and how a rendered image
becomes ``frames/frame_NNNNN.png``.

The worker collects whatever is in ``frames/``, so an image only ever appears there whole
(renamed into place on the same file system), only after it was checked to be the PNG
that was asked for, and only while the agent's lease on it holds (the agent asks the API
between ``check`` and ``place``).
"""

import hashlib
import os
import re
import shutil
import struct
from dataclasses import dataclass
from typing import Sequence, Tuple

from raycrafter_contract.naming import PNG_SIGNATURE, frame_file_name
from raycrafter_contract.scenes import SceneRejected, check_main_file



class BadImage(Exception):
    """The renderer exited cleanly but its output is missing or not the requested image."""


@dataclass(frozen=True)
class CheckedImage:
    """A rendered image that is the PNG asked for, with what the API records of it."""

    path: str
    checksum: str
    size: int


def frame_path(frames_dir: str, frame: int) -> str:
    return os.path.join(frames_dir, frame_file_name(frame))


def scene_path(input_dir: str, scene_file: str) -> str:
    """The scene's absolute path, refusing anything that could leave ``input/``.

    The name comes from the API, which comes from a user: it must pass the contract's
    main-file rule again here (relative, no ``..``, a name POV-Ray can be started on).
    """
    try:
        check_main_file(scene_file)
    except SceneRejected as error:
        raise ValueError("scene file name %r: %s" % (scene_file, error.reason)) from None
    path = os.path.join(input_dir, scene_file)
    if not os.path.isfile(path):
        raise ValueError("scene file %s is missing from the job's input directory" % scene_file)
    return path


def work_dir_path(frames_dir: str, frame: int, lease_id: str) -> str:
    """The directory of the renderer process whose run starts at ``frame`` under the lease,
    next to the final images so the rename is atomic."""
    safe_lease = re.sub(r"[^A-Za-z0-9_-]", "_", lease_id)
    return os.path.join(frames_dir, ".work-%05d-%s" % (frame, safe_lease))


def make_work_dir(path: str, images: Sequence[str], discarded: Sequence[str]) -> None:
    """A fresh work directory holding an empty file for each image the renderer writes and
    a link to /dev/null for each file it writes that nobody reads: under Landlock these
    are all the renderer can write (confinement.py)."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    for image in images:
        open(image, "xb").close()
    for name in discarded:
        os.symlink(os.devnull, name)


def remove_work_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def png_size(path: str) -> Tuple[int, int]:
    """(width, height) from the IHDR chunk, which the PNG format puts first."""
    with open(path, "rb") as handle:
        head = handle.read(24)
    if len(head) < 24 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
        raise BadImage("%s is not a PNG image" % os.path.basename(path))
    return struct.unpack(">II", head[16:24])


def written(image: str) -> bool:
    """Whether the renderer wrote anything into the image file the agent made for it."""
    try:
        return os.path.getsize(image) > 0
    except OSError:
        return False


def check(image: str, width: int, height: int) -> CheckedImage:
    """The rendered image, if it is a PNG of the size the job asked for."""
    actual = png_size(image)
    if actual != (width, height):
        raise BadImage("image is %dx%d, the job asked for %dx%d" % (actual + (width, height)))
    digest = hashlib.sha256()
    with open(image, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return CheckedImage(image, digest.hexdigest(), os.path.getsize(image))


def place(image: CheckedImage, frames_dir: str, frame: int) -> str:
    """Rename the checked image into place; returns where it is now."""
    target = frame_path(frames_dir, frame)
    os.replace(image.path, target)
    return target
