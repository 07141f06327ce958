"""``raycrafter-logship --config FILE``: a host's own programs' log files (nginx,
PostgreSQL, RabbitMQ, Slurm, the Salt minion) sent to the log server as GELF records,
over the log server's TLS port, with the host's credential.

Why a shipper of our own rather than syslog-ng or rsyslog: the log server takes nothing
without a credential, these programs write files (not syslog), and what must hold is the
same for every file: nothing lost across the programs' own rotation, nothing kept in
memory beyond one batch when the log host is down.

Each file is followed by its inode and the offset read up to, saved (``state_file``) only
once the log server has read a batch: it closes its end after reading all a connection
sent, and a batch counts as sent when that close arrives. So a shipper restarted, or a log
server down for a while, resumes where the log server stopped taking. A file renamed by
its rotation (``access.log`` to ``access.log.1``) is read to its end under its new name
before the new file is begun; a file copied and truncated in place (``copytruncate``) has
its unread end read from the copy, then is read again from its start. Lines are lost only when a rotated file is gone (compressed or removed)
before the shipper read it, which happens only when the log host stays down longer than
the program keeps a rotated file uncompressed; they are counted in the shipper's log.

While the log host is down nothing but the files grows, and those by the programs' own
rotation. A line longer than ``max_line_bytes`` is cut there.
"""
import dataclasses
import glob
import json
import logging
import os
import signal
import socket
import ssl
import sys
import time
from typing import Dict, List, Optional, Tuple

from raycrafter_contract.log_credentials import RECORD_FIELD
from raycrafter_contract.utilities.toml_file import read_toml

from .command_line import configuration
from .config import ConfigError

log = logging.getLogger("raycrafter_logship")

HEAD_BYTES = 64


@dataclasses.dataclass(frozen=True)
class Source:
    pattern: str  # a path or a glob: each file it matches is followed
    program: str
    level: int = 6  # the syslog level of its lines (an error log's: 3)


@dataclasses.dataclass(frozen=True)
class Config:
    host: str
    port: int
    credential: str = dataclasses.field(repr=False)
    state_file: str
    sources: Tuple[Source, ...]
    ca_file: str = ""  # empty: plain TCP (the log server on this host's loopback)
    server_name: str = ""  # the name the log server's certificate holds (default host)
    hostname: str = dataclasses.field(default_factory=socket.gethostname)
    poll_seconds: float = 1.0
    retry_seconds: float = 5.0
    max_batch_bytes: int = 1 << 20
    max_line_bytes: int = 16384


def load(path: str) -> Config:
    raw = read_toml(path, ConfigError)
    known = {field.name for field in dataclasses.fields(Config)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown config keys: {', '.join(unknown)}")
    for key in ("host", "credential", "state_file"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"config key {key!r} is required (a string)")
    if not isinstance(raw.get("port"), int) or not 0 < raw["port"] < 65536:
        raise ConfigError("config key 'port' must be a TCP port number")
    sources = raw.get("sources")
    if not isinstance(sources, list) or not sources:
        raise ConfigError("config key 'sources' must be a list of tables ([[sources]] "
                          "pattern, program, level)")
    try:
        raw["sources"] = tuple(Source(**table) for table in sources)
        return Config(**raw)
    except TypeError as error:
        raise ConfigError(f"sources: {error}") from None


@dataclasses.dataclass
class Position:
    inode: int
    offset: int
    # The copy a truncated file's unread end is being read from (copytruncate), if any.
    copy: str = ""
    # The file's first bytes (up to HEAD_BYTES of what was read): a file truncated and
    # written again past the offset between two looks begins otherwise.
    head: str = ""


class Shipper:
    def __init__(self, config: Config, clock=time.time) -> None:
        self.config = config
        self._clock = clock
        self.positions: Dict[str, Position] = self._saved()
        self.lost = 0

    def run(self, stop=lambda: False) -> None:
        while not stop():
            try:
                sent = self.ship_once()
            except OSError as error:
                log.warning("the log server at %s:%d: %s; retrying in %.0f s",
                            self.config.host, self.config.port, error,
                            self.config.retry_seconds)
                _sleep_unless(stop, self.config.retry_seconds)
                continue
            if not sent:
                _sleep_unless(stop, self.config.poll_seconds)

    def ship_once(self) -> int:
        """Send what the files hold beyond the saved positions, a batch at a time; the
        number of lines sent. OSError when the log server cannot take them (the positions
        stay where they were)."""
        sent = 0
        for path, source in self._files():
            while True:
                lines, position = self._read(path, source)
                if position is None:
                    break
                if lines:
                    self._send([self._record(line, path, source) for line in lines])
                self.positions[path] = position
                self._save()
                sent += len(lines)
        return sent

    def _files(self) -> List[Tuple[str, Source]]:
        return [(path, source) for source in self.config.sources
                for path in sorted(glob.glob(source.pattern)) if os.path.isfile(path)]

    def _read(self, path: str, source: Source) -> Tuple[List[bytes], Optional[Position]]:
        """The next batch of whole lines of ``path`` (or of its rotated predecessor,
        first), and the position after them; None for the position when there is nothing
        new."""
        try:
            current = os.stat(path)
        except FileNotFoundError:
            return [], None
        saved = self.positions.get(path)
        if saved is None:  # a file first seen: from its end (its past is not this host's news)
            self.positions[path] = Position(current.st_ino, current.st_size,
                                            head=_head(path, current.st_size))
            self._save()
            return [], None
        if saved.inode != current.st_ino:
            rotated = _renamed(path, saved.inode)
            if rotated is not None:
                lines, offset = self._lines(rotated, saved.offset)
                if offset != saved.offset:
                    return lines, Position(saved.inode, offset)
            else:
                self.lost += 1
                log.warning("%s was rotated and its old file is gone before it was read to "
                            "its end: lines lost", path)
            saved = self.positions[path] = Position(current.st_ino, 0)
        elif (saved.copy or current.st_size < saved.offset
              or _head(path, saved.offset) != saved.head):  # copied and truncated in place
            copy = saved.copy or _copied(path, saved.offset)
            if copy:
                lines, offset = self._lines(copy, saved.offset)
                if offset != saved.offset or not saved.copy:
                    return lines, Position(saved.inode, offset, copy)
            saved = self.positions[path] = Position(current.st_ino, 0)
        start = saved.offset
        lines, offset = self._lines(path, start)
        return lines, (Position(current.st_ino, offset, head=_head(path, offset))
                       if offset != start else None)

    def _lines(self, path: str, offset: int) -> Tuple[List[bytes], int]:
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                data = handle.read(self.config.max_batch_bytes)
        except FileNotFoundError:
            return [], offset
        end = data.rfind(b"\n") + 1
        if end == 0 and len(data) >= self.config.max_batch_bytes:  # one line over a batch
            end = len(data)
        lines = [line[:self.config.max_line_bytes] for line in data[:end].splitlines()]
        return [line for line in lines if line.strip()], offset + end

    def _record(self, line: bytes, path: str, source: Source) -> bytes:
        record = {"version": "1.1", "host": self.config.hostname,
                  "short_message": line.decode("utf-8", "replace"),
                  "timestamp": round(self._clock(), 6), "level": source.level,
                  "_program": source.program, "_file": path,
                  RECORD_FIELD: self.config.credential}
        return json.dumps(record, separators=(",", ":")).encode("utf-8") + b"\0"

    def _send(self, records: List[bytes]) -> None:
        config = self.config
        with socket.create_connection((config.host, config.port), timeout=30) as raw:
            sock = raw
            if config.ca_file:
                context = ssl.create_default_context(cafile=config.ca_file)
                sock = context.wrap_socket(raw, server_hostname=config.server_name or config.host)
            sock.sendall(b"".join(records))
            sock.shutdown(socket.SHUT_WR)
            # The log server closes its end once it has read (and written) all we sent.
            while sock.recv(4096):
                pass

    def _saved(self) -> Dict[str, Position]:
        try:
            with open(self.config.state_file) as handle:
                return {path: Position(**position) for path, position in json.load(handle).items()}
        except FileNotFoundError:
            return {}
        except (ValueError, TypeError) as error:
            log.warning("state file %s unreadable (%s): following the files from their end",
                        self.config.state_file, error)
            return {}

    def _save(self) -> None:
        temporary = self.config.state_file + ".new"
        with open(temporary, "w") as handle:
            json.dump({path: dataclasses.asdict(position)
                       for path, position in self.positions.items()}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.config.state_file)


def _renamed(path: str, inode: int) -> Optional[str]:
    """The file beside ``path`` that is ``path``'s former self (same inode), if any."""
    directory = os.path.dirname(path) or "."
    prefix = os.path.basename(path)
    for name in os.listdir(directory):
        if name.startswith(prefix) and name != prefix:
            candidate = os.path.join(directory, name)
            try:
                if os.stat(candidate).st_ino == inode:
                    return candidate
            except FileNotFoundError:
                continue
    return None


def _head(path: str, offset: int) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(min(offset, HEAD_BYTES)).hex()
    except FileNotFoundError:
        return ""


def _copied(path: str, offset: int) -> Optional[str]:
    """The newest uncompressed copy beside ``path`` that reaches ``offset``: where the end
    of a file truncated in place (copytruncate) went."""
    directory = os.path.dirname(path) or "."
    prefix = os.path.basename(path) + "."
    copies = []
    for name in os.listdir(directory):
        if name.startswith(prefix) and not name.endswith((".gz", ".xz", ".bz2", ".zst")):
            try:
                status = os.stat(os.path.join(directory, name))
            except FileNotFoundError:
                continue
            if status.st_size >= offset:
                copies.append((status.st_mtime, os.path.join(directory, name)))
    return max(copies)[1] if copies else None


def _sleep_unless(stop, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not stop() and time.monotonic() < deadline:
        time.sleep(min(0.2, seconds))


def main(argv: Optional[List[str]] = None) -> int:
    config = configuration("raycrafter-logship", __doc__.split("\n")[0], load, argv)
    if config is None:
        return 2
    stopping = []
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stopping.append(True))
    log.info("shipping %s to %s:%d", ", ".join(f"{s.pattern} ({s.program})"
                                               for s in config.sources), config.host, config.port)
    Shipper(config).run(lambda: bool(stopping))
    return 0


if __name__ == "__main__":
    sys.exit(main())
