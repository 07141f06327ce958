"""Fetching a job's frame images into a directory.

The images come in one zip (``GET /jobs/ID/archive``), spooled to a temporary file in
the target directory. Each file is named by the CLI itself (``frame_00007.png``) from the
frame number, never from a name in the archive, is checked against the checksum the API
recorded for the frame, and appears under its final name only once complete.
"""
import dataclasses
import hashlib
import os
import re
import tempfile
import zipfile

from raycrafter_contract.naming import PNG_SIGNATURE, frame_file_name

from . import exit_codes
from .errors import CliError

_MEMBER = re.compile(r"(?:^|/)frame_(\d{1,5})\.png$", re.ASCII)


@dataclasses.dataclass
class Download:
    directory: str
    files: list
    frames_total: int


def download(api, job_id, directory):
    """Write every collected frame of the job into ``directory`` (created if needed)."""
    frames = api.frames(job_id)
    checksums = {f["number"]: f["checksum"] for f in frames if f["image_available"]}
    prepare_directory(directory)
    try:
        with tempfile.TemporaryFile(dir=directory) as spool:
            api.save_archive(job_id, spool)
            files = _unpack(spool, checksums, directory)
    except zipfile.BadZipFile as error:
        raise CliError(f"the archive of job {job_id} is damaged ({error}); download again",
                       exit_codes.API_UNAVAILABLE) from None
    except OSError as error:
        raise CliError(f"cannot write to {directory}: {error.strerror or error}",
                       exit_codes.USAGE) from None
    return Download(directory, files, len(frames))


def _unpack(spool, checksums, directory):
    with zipfile.ZipFile(spool) as archive:
        return [_extract(archive, info, number, checksums, directory)
                for info, number in _frame_members(archive)]


def prepare_directory(directory):
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        raise CliError(f"cannot create {directory}: {error.strerror}",
                       exit_codes.USAGE) from None
    if not os.access(directory, os.W_OK):
        raise CliError(f"cannot write to {directory}", exit_codes.USAGE)


def _frame_members(archive):
    """(info, frame number) of the archive's frame images, in frame order."""
    members = []
    for info in archive.infolist():
        match = _MEMBER.search(info.filename)
        if match and not info.is_dir():
            members.append((info, int(match.group(1))))
    return sorted(members, key=lambda member: member[1])


def _extract(archive, info, number, checksums, directory):
    final = os.path.join(directory, frame_file_name(number))
    digest = hashlib.sha256()
    with archive.open(info) as source, tempfile.NamedTemporaryFile(
            dir=directory, prefix=".frame-", suffix=".part", delete=False) as target:
        try:
            while chunk := source.read(1024 * 1024):
                digest.update(chunk)
                target.write(chunk)
            target.close()
            _check(number, final, digest.hexdigest(), checksums.get(number), target.name)
        except BaseException:
            os.unlink(target.name)
            raise
    os.replace(target.name, final)
    return final


def _check(number, final, checksum, expected, path):
    with open(path, "rb") as f:
        is_png = f.read(len(PNG_SIGNATURE)) == PNG_SIGNATURE
    if not is_png or (expected and checksum != expected):
        problem = "is not a PNG image" if not is_png else "does not match its checksum"
        raise CliError(f"{os.path.basename(final)} {problem}; download again",
                       exit_codes.API_UNAVAILABLE)
