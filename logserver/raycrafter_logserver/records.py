"""What is written for a record taken, and where.

One JSON object per line in UTF-8, as the syslog-ng the appliance ran before wrote them
and as the tests and the operators' searches read them: every field a string (a number
as it was sent, ``true``/``false``, null as the empty string, an object or array as its
compact JSON), no spaces between fields, so ``"_job_id":"12"`` finds a job's records. The
log server adds what it vouches for: ``_job_id`` and ``_submit_attempt`` from a batch
job's credential, ``_host`` from a host's, or ``_service`` from a service's (over anything
the record said), and ``_source``, the address it came from. A service's record keeps the
job it names, when that is a job number.
"""
import glob
import json
import os
import re
import time
from typing import List, Optional

from raycrafter_contract.log_credentials import (AnyCredential, HostCredential,
                                                 ServiceCredential)


class Malformed(ValueError):
    """Not a GELF record: no JSON object."""


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse(frame: bytes) -> dict:
    """The record a frame holds, numbers kept as they were written."""
    try:
        record = json.loads(frame, parse_int=str, parse_float=str,
                            parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise Malformed(f"not JSON: {error}") from None
    if not isinstance(record, dict):
        raise Malformed("not a JSON object")
    return record


_JOB_NUMBER = re.compile(r"[1-9][0-9]{0,17}")


def line(record: dict, credential: AnyCredential, source: str) -> bytes:
    """The line written for ``record`` (its credential already taken out of it)."""
    fields = {name: _text(value) for name, value in record.items()}
    if isinstance(credential, HostCredential):
        # A host's programs write about no batch job.
        fields.pop("_job_id", None)
        fields.pop("_submit_attempt", None)
        fields.update(_host=credential.host, _source=source)
    elif isinstance(credential, ServiceCredential):
        # A service writes about any job, and about no batch job's attempt of its own.
        fields.pop("_submit_attempt", None)
        if not _JOB_NUMBER.fullmatch(fields.get("_job_id", "")):
            fields.pop("_job_id", None)
        fields.update(_service=credential.service, _source=source)
    else:
        fields.update(_job_id=str(credential.job_id), _submit_attempt=str(credential.attempt),
                      _source=source)
    # A lone surrogate (JSON may spell one) has no UTF-8: it is written as "?".
    return (json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
            .encode("utf-8", "replace") + b"\n")


def claims_another_job(record: dict, credential: AnyCredential) -> bool:
    if isinstance(credential, (HostCredential, ServiceCredential)):
        return False
    claimed = record.get("_job_id")
    return claimed is not None and _text(claimed) != str(credential.job_id)


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class RecordsFile:
    """The one file records are appended to (mode 0640), by this process alone, so lines
    never interleave. Writes are buffered and flushed after each batch a connection
    brought.

    Once the file holds ``rotate_bytes`` it is renamed ``PATH.STAMP`` (the UTC time of the
    rotation to the microsecond, so names sort by age) and a new one begun; of the renamed files only the
    newest ``keep_files`` younger than ``keep_days`` are kept. So the records never take
    more than about ``(keep_files + 1) * rotate_bytes`` of the log host's disk, however
    chatty a render is."""

    def __init__(self, path: str, rotate_bytes: int = 64 << 20, keep_files: int = 16,
                 keep_days: float = 30.0, clock=time.time) -> None:
        self.path = path
        self.rotate_bytes, self.keep_files, self.keep_days = rotate_bytes, keep_files, keep_days
        self._clock = clock
        self._handle: Optional[object] = None

    def open(self) -> "RecordsFile":
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._handle = os.fdopen(descriptor, "ab", buffering=1 << 16)
        return self

    def write(self, data: bytes) -> None:
        self._handle.write(data)

    def flush(self) -> None:
        self._handle.flush()
        if self._handle.tell() >= self.rotate_bytes:
            self.rotate()

    def rotate(self) -> None:
        self.close()
        now = self._clock()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
        # Rotations within one microsecond (a clock that stood still) number on from the
        # last, never reusing a name an older file had: names sort by age.
        taken = [_order(self.path, name)[1] for name in rotated_files(self.path)
                 if _order(self.path, name)[0] == stamp]
        target = f"{self.path}.{stamp}" + (f"-{max(taken) + 1}" if taken else "")
        os.rename(self.path, target)
        self.open()
        self.prune()

    def prune(self) -> None:
        """Remove the rotated files beyond the newest ``keep_files`` or older than
        ``keep_days``."""
        oldest = self._clock() - self.keep_days * 86400
        for index, path in enumerate(reversed(rotated_files(self.path))):
            if index >= self.keep_files or os.stat(path).st_mtime < oldest:
                os.unlink(path)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


_ROTATED = re.compile(r"\.[0-9]{8}T[0-9]{6}\.[0-9]{6}Z(-[0-9]+)?")


def rotated_files(path: str) -> List[str]:
    """The files ``path`` was rotated into, oldest first."""
    return sorted((name for name in glob.glob(glob.escape(path) + ".*")
                   if _ROTATED.fullmatch(name[len(path):])),
                  key=lambda name: _order(path, name))


def _order(path: str, name: str):
    """(stamp, number) of a rotated file's name: its place among the others."""
    stamp, _, number = name[len(path) + 1:].partition("-")
    return stamp, int(number or 1)
