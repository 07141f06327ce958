"""``raycrafter-logs``: the log server's records an operator asks for, on the log host.

    raycrafter-logs [--config FILE] [--job N] [--frame M] [--level L] [--since T]
                    [--grep TEXT] [--follow]

Reads the rotated files oldest first, then the current one (records.rotated_files), and
prints each record that matches as one line: its time (UTC), level, job, frame, node and
message. ``--follow`` then waits for new records, across a rotation. Exit status: 0, 2 for
a bad option or configuration.
"""
import argparse
import datetime
import json
import os
import re
import sys
import time
from typing import Iterator, List, Optional

from . import config as config_module
from .records import rotated_files

DEFAULT_CONFIG = "/etc/raycrafter/logserver/logserver.toml"
# Syslog's levels, as GELF carries them (0 the most severe).
LEVELS = {"emergency": 0, "alert": 1, "critical": 2, "error": 3, "warning": 4,
          "notice": 5, "info": 6, "debug": 7}
FOLLOW_SECONDS = 0.5


class Filter:
    def __init__(self, job: Optional[int], frame: Optional[int], level: Optional[int],
                 since: Optional[float], grep: Optional[str]) -> None:
        self.job, self.frame, self.level, self.since = job, frame, level, since
        self.grep = grep.lower() if grep else None

    def matches(self, record: dict) -> bool:
        if self.job is not None and record.get("_job_id") != str(self.job):
            return False
        if self.frame is not None and record.get("_frame") != str(self.frame):
            return False
        if self.level is not None and _number(record.get("level"), 6) > self.level:
            return False
        if self.since is not None and _number(record.get("timestamp"), 0) < self.since:
            return False
        return self.grep is None or self.grep in record.get("short_message", "").lower()


def shown(record: dict) -> str:
    moment = datetime.datetime.fromtimestamp(_number(record.get("timestamp"), 0),
                                             datetime.timezone.utc)
    frame = record.get("_frame")
    return (f"{moment:%Y-%m-%d %H:%M:%S} {record.get('level_name') or record.get('level', '')}"
            f" job {record.get('_job_id', '?')}{f' frame {frame}' if frame else ''}"
            f" {record.get('_node') or record.get('host', '')}: "
            f"{record.get('short_message', '')}")


def records_in(paths: List[str]) -> Iterator[dict]:
    for path in paths:
        try:
            with open(path, "rb") as handle:
                for line in handle:
                    record = _record(line)
                    if record is not None:
                        yield record
        except FileNotFoundError:  # pruned while we read
            continue


def follow(path: str, stop=lambda: False) -> Iterator[dict]:
    """The records written to ``path`` from now on, across rotations."""
    handle, identity = _open_at_end(path)
    partial = b""
    while not stop():
        chunk = handle.read(1 << 16) if handle else b""
        if chunk:
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            for line in lines:
                record = _record(line)
                if record is not None:
                    yield record
            continue
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = identity
        if current != identity:  # rotated (or begun): the old file was read to its end above
            if handle is not None:
                handle.close()
            handle, identity, partial = open(path, "rb"), current, b""
            continue
        time.sleep(FOLLOW_SECONDS)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="raycrafter-logs", description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG,
                        help=f"the log server's configuration (default {DEFAULT_CONFIG})")
    parser.add_argument("--job", type=int)
    parser.add_argument("--frame", type=int)
    parser.add_argument("--level", help="this level and those more severe: "
                                        + ", ".join(LEVELS) + ", or 0-7")
    parser.add_argument("--since", help="records from then on: an ISO 8601 time (UTC unless "
                                        "it says) or an age (30m, 2h, 7d)")
    parser.add_argument("--grep", help="records whose message holds this text (any case)")
    parser.add_argument("--follow", action="store_true", help="then wait for new records")
    args = parser.parse_args(argv)
    try:
        records_file = config_module.load(args.config).records_file
        wanted = Filter(args.job, args.frame, _level(args.level), _since(args.since, time.time()),
                        args.grep)
    except (config_module.ConfigError, ValueError) as error:
        print(f"raycrafter-logs: {error}", file=sys.stderr)
        return 2
    try:
        for record in records_in(rotated_files(records_file) + [records_file]):
            if wanted.matches(record):
                print(shown(record), flush=args.follow)
        if args.follow:
            for record in follow(records_file):
                if wanted.matches(record):
                    print(shown(record), flush=True)
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    return 0


def _open_at_end(path: str):
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return None, None
    handle.seek(0, os.SEEK_END)
    return handle, os.fstat(handle.fileno()).st_ino


def _record(line: bytes) -> Optional[dict]:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _number(text, default: float) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return default


def _level(text: Optional[str]) -> Optional[int]:
    if text is None:
        return None
    if text.isdigit() and int(text) <= 7:
        return int(text)
    if text.lower() in LEVELS:
        return LEVELS[text.lower()]
    raise ValueError(f"--level {text!r}: one of {', '.join(LEVELS)}, or 0-7")


def _since(text: Optional[str], now: float) -> Optional[float]:
    if text is None:
        return None
    age = re.fullmatch(r"([0-9]+)([smhd])", text)
    if age:
        return now - int(age.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[age.group(2)]
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r}: an ISO 8601 time (2026-12-07T14:00:00Z) or an "
                         f"age (30m, 2h, 7d)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


if __name__ == "__main__":
    sys.exit(main())
