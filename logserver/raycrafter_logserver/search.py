"""``raycrafter-logs``: the log server's records an operator asks for, on the log host.

    raycrafter-logs [--config FILE] [--job N] [--frame M] [--program P] [--level L]
                    [--since T] [--grep TEXT] [--follow]

Reads the rotated files oldest first, then the current one (records.rotated_files), and
prints each record that matches as one line: its time (UTC), level, job and frame (or the
host's program), node or host and message (raycrafter_contract.log_search: the same rules
as ``raycrafter-admin logs`` on the web host, which asks the log server's search port).
``--follow`` then waits for new records, across a rotation. Exit status: 0, 2 for a bad
option or configuration.
"""
import argparse
import json
import os
import sys
import time
from typing import Iterator, List, Optional

from raycrafter_contract.log_search import add_query_options, query_from, shown

from . import config as config_module
from .records import rotated_files

DEFAULT_CONFIG = "/etc/raycrafter/logserver/logserver.toml"
FOLLOW_SECONDS = 0.5


def kept(records_file: str) -> Iterator[dict]:
    """Every record kept: the rotated files oldest first, then the current one."""
    return records_in(rotated_files(records_file) + [records_file])


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
    add_query_options(parser)
    args = parser.parse_args(argv)
    try:
        records_file = config_module.load(args.config).records_file
        query = query_from(args)
    except (config_module.ConfigError, ValueError) as error:
        print(f"raycrafter-logs: {error}", file=sys.stderr)
        return 2
    try:
        for record in kept(records_file):
            if query.matches(record):
                print(shown(record), flush=query.follow)
        if query.follow:
            for record in follow(records_file):
                if query.matches(record):
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


if __name__ == "__main__":
    sys.exit(main())
