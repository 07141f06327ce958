"""Files under ``data_dir``: job inputs and frame images.

Every path is built from integer ids and fixed names, never from request text, so nothing
a client sends can name a file outside ``data_dir``. Files are written to a temporary
name in the same directory tree and renamed into place, so a reader never sees half a file.
"""
import dataclasses
import hashlib
import os
import tempfile

from raycrafter_contract.naming import frame_file_name

from ..problems import too_large

_CHUNK = 1024 * 1024


@dataclasses.dataclass
class Upload:
    """A received file in ``data_dir/tmp`` with its size and SHA-256."""
    path: str
    size: int
    checksum: str
    kind: str = ""

    def discard(self):
        if os.path.exists(self.path):
            os.unlink(self.path)


def job_dir(config, job_id):
    return os.path.join(config.data_dir, "jobs", str(int(job_id)))


def input_path(config, job):
    # The kind is one of raycrafter_contract.scenes.KINDS, never request text.
    return os.path.join(job_dir(config, job.id), "input", f"scene.{job.scene_kind}")


def frame_image_path(config, job_id, number):
    return os.path.join(job_dir(config, job_id), "frames", frame_file_name(number))


def receive(config, stream, limit):
    """Copy ``stream`` into a temporary file, refusing (TooLarge) more than ``limit`` bytes."""
    tmp_dir = os.path.join(config.data_dir, "tmp")
    os.makedirs(tmp_dir, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, path = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
    upload = Upload(path, 0, "")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise too_large(f"the upload exceeds {limit} bytes", limit)
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        upload.discard()
        raise
    upload.size, upload.checksum = size, digest.hexdigest()
    return upload


def place(upload, destination):
    """Move a received file to its final path (atomic rename within ``data_dir``)."""
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    os.replace(upload.path, destination)
