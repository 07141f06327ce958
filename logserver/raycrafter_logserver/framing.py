"""GELF over TCP: each record is a JSON object ended by a NUL byte. A connection's bytes
are split into records here, holding at most ``max_record_bytes`` of one that is not yet
complete: a longer record is skipped up to its NUL without being kept, so a sender cannot
make the server hold more than that per connection, whatever it sends."""
from typing import List


class Frames:
    """The records of one connection, as its bytes arrive."""

    def __init__(self, max_record_bytes: int) -> None:
        self.max_record_bytes = max_record_bytes
        self.oversize = 0  # records skipped for their size
        self._pending = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> List[bytes]:
        """The records ``data`` completes, in order (empty ones left out)."""
        records = []
        start = 0
        while True:
            end = data.find(b"\0", start)
            if end < 0:
                self._hold(data[start:])
                return records
            if self._skipping:
                self._skipping = False
            elif len(self._pending) + end - start > self.max_record_bytes:
                self._pending.clear()
                self.oversize += 1
            else:
                record = bytes(self._pending) + data[start:end]
                self._pending.clear()
                if record.strip():
                    records.append(record)
            start = end + 1

    @property
    def unfinished(self) -> bool:
        """Whether the connection ended inside a record (which is then lost)."""
        return bool(self._pending) or self._skipping

    def _hold(self, rest: bytes) -> None:
        if self._skipping:
            return
        if len(self._pending) + len(rest) > self.max_record_bytes:
            self._pending.clear()
            self._skipping = True
            self.oversize += 1
            return
        self._pending += rest
