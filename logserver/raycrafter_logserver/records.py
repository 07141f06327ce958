"""What is written for a record taken, and where.

One JSON object per line in UTF-8, as the syslog-ng the appliance ran before wrote them
and as the tests and the operators' searches read them: every field a string (a number
as it was sent, ``true``/``false``, null as the empty string, an object or array as its
compact JSON), no spaces between fields, so ``"_job_id":"12"`` finds a job's records. The
log server adds what it vouches for: ``_job_id`` and ``_submit_attempt`` from the
record's credential (over anything the record said) and ``_source``, the address it came
from.
"""
import json
import os
from typing import Optional

from raycrafter_contract.log_credentials import LogCredential


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


def line(record: dict, credential: LogCredential, source: str) -> bytes:
    """The line written for ``record`` (its credential already taken out of it)."""
    fields = {name: _text(value) for name, value in record.items()}
    fields.update(_job_id=str(credential.job_id), _submit_attempt=str(credential.attempt),
                  _source=source)
    # A lone surrogate (JSON may spell one) has no UTF-8: it is written as "?".
    return (json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
            .encode("utf-8", "replace") + b"\n")


def claims_another_job(record: dict, credential: LogCredential) -> bool:
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
    brought."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._handle: Optional[object] = None

    def open(self) -> "RecordsFile":
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._handle = os.fdopen(descriptor, "ab", buffering=1 << 16)
        return self

    def write(self, data: bytes) -> None:
        self._handle.write(data)

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
