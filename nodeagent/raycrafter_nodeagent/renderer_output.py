"""A renderer's output, bounded wherever it goes: a scene decides what POV-Ray prints
(``#debug``), so nothing here may grow with it.

- Lines are read from the pipe in blocks and cut at ``MAX_LINE_BYTES``: a line without
  end costs the agent no memory.
- The tail sent to the API with each result keeps the last lines within a count and
  ``LOG_TAIL_BYTES``.
- What reaches the agent's log (its stderr, which is the batch job's error file, and the
  log server) is, per frame, its first lines up to half a budget of lines and bytes as
  they come, and at the frame's end its last lines within the other half, with a line
  that says how much was left out between: the start says what the renderer was asked,
  the end why it stopped.
"""

import collections
import io
import logging
import re
from typing import Deque, Iterator

log = logging.getLogger("raycrafter_nodeagent.renderer")

MAX_LINE_BYTES = 1024
# The API keeps this much of a log tail (LOG_TAIL_CHARS), so more would only travel.
LOG_TAIL_BYTES = 16 * 1024
READ_BYTES = 64 * 1024
# POV-Ray ends its progress counters with a carriage return.
LINE_END = re.compile(rb"[\r\n]")


def read_lines(stream: io.BufferedReader) -> Iterator[str]:
    """The non-empty lines of ``stream`` until it ends, each cut to ``MAX_LINE_BYTES``."""
    line = bytearray()
    left_out = 0
    while True:
        block = stream.read1(READ_BYTES)
        if not block:
            break
        for index, part in enumerate(LINE_END.split(block)):
            if index:
                text = _text(line, left_out)
                if text:
                    yield text
                line, left_out = bytearray(), 0
            room = MAX_LINE_BYTES - len(line)
            line += part[:room]
            left_out += max(0, len(part) - room)
    text = _text(line, left_out)
    if text:
        yield text


def _text(line: bytearray, left_out: int) -> str:
    text = line.decode("utf-8", "replace").rstrip()
    if left_out:
        text += " [%d more bytes of this line left out]" % left_out
    return text


def _size(line: str) -> int:
    return len(line.encode("utf-8")) + 1


class Tail:
    """The last lines added, at most ``max_lines`` of them and ``max_bytes`` in all."""

    def __init__(self, max_lines: int, max_bytes: int) -> None:
        self._lines: Deque[str] = collections.deque()
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._bytes = 0
        self.dropped_lines = 0
        self.dropped_bytes = 0

    def add(self, line: str) -> None:
        self._lines.append(line)
        self._bytes += _size(line)
        while len(self._lines) > self._max_lines or self._bytes > self._max_bytes:
            dropped = self._lines.popleft()
            self._bytes -= _size(dropped)
            self.dropped_lines += 1
            self.dropped_bytes += _size(dropped)

    def take(self) -> Deque[str]:
        """The lines, which are then gone from here."""
        lines, self._lines, self._bytes = self._lines, collections.deque(), 0
        return lines

    def text(self) -> str:
        return "\n".join(self._lines)


class ForwardedOutput:
    """The renderer lines of one frame after another that reach the agent's log, within
    ``max_lines`` and ``max_bytes`` per frame (half for its start, half for its end)."""

    def __init__(self, max_lines: int, max_bytes: int) -> None:
        self._head_lines = max(1, max_lines // 2)
        self._head_bytes = max_bytes // 2
        self._tail_lines = max(1, max_lines - self._head_lines)
        self._tail_bytes = max_bytes - self._head_bytes
        self._start_frame()

    def _start_frame(self) -> None:
        self._lines = 0
        self._bytes = 0
        self._held = Tail(self._tail_lines, self._tail_bytes)

    def add(self, line: str) -> None:
        if self._lines < self._head_lines and self._bytes + _size(line) <= self._head_bytes:
            self._lines += 1
            self._bytes += _size(line)
            log.info("%s", line)
        else:
            self._held.add(line)

    def end_frame(self) -> None:
        """Log the frame's last lines (and what was left out), ready for the next frame."""
        if self._held.dropped_lines:
            log.warning("renderer output: %d line%s (%d bytes) left out",
                        self._held.dropped_lines, "" if self._held.dropped_lines == 1 else "s",
                        self._held.dropped_bytes)
        for line in self._held.take():
            log.info("%s", line)
        self._start_frame()
