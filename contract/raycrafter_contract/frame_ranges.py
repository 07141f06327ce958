"""The frames of a job as a user writes them: ``7``, ``1-24`` or ``1-100:5``.

The CLI checks what its user typed and the API what it was sent, with this one parser.
Frame numbers are ASCII digits only, as many as a frame file's name holds: Python's
``\\d`` and ``int`` also take other scripts' digits (``١-٢٤``, ``１-２４``), which no frame
file name or POV-Ray switch ever shows.
"""
import re
from typing import NamedTuple

from .naming import MAX_FRAME_NUMBER

_NUMBER = "([0-9]{1,%d})" % len(str(MAX_FRAME_NUMBER))
_GRAMMAR = re.compile("%s(?:-%s(?::%s)?)?" % (_NUMBER, _NUMBER, _NUMBER))
SYNTAX = "N, FIRST-LAST or FIRST-LAST:STEP (e.g. 1-24)"


class FrameRange(NamedTuple):
    """Frames ``first``, ``first + step``, ... up to ``last``, which is the last of them."""

    first: int
    last: int
    step: int

    @property
    def count(self):
        return (self.last - self.first) // self.step + 1


def parse_frame_range(text):
    """The FrameRange ``text`` names (surrounding blanks ignored), or ValueError saying
    what is wrong with it. ``last`` is moved down to the last frame the step reaches."""
    match = _GRAMMAR.fullmatch((text or "").strip())
    if not match:
        raise ValueError("use " + SYNTAX)
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) else first
    step = int(match.group(3)) if match.group(3) else 1
    if last < first:
        raise ValueError("the last frame comes before the first")
    if step < 1:
        raise ValueError("the step must be at least 1")
    return FrameRange(first, last - (last - first) % step, step)
