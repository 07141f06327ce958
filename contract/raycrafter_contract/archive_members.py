"""What the archive readers (tar_reading, zip_reading) hand the scene rule: each member as
its archive describes it, and the refusal of an archive or member they cannot read within
their bounds. The rule (scenes.py) decides what a member may be and what it may cost."""
import dataclasses
from typing import Callable, Iterator, Optional

FILE, FOLDER, SYMLINK, HARDLINK, OTHER = "file", "folder", "symlink", "hardlink", "other"


class Unreadable(Exception):
    """The archive, or one member of it (``member``: its name as the archive gives it),
    cannot be read safely: damaged, cut short, inconsistent, or beyond what the readers
    bound. ``reason`` says which in words a user can act on."""

    def __init__(self, reason, member=None):
        super().__init__(reason if member is None else "%s: %s" % (member, reason))
        self.reason = reason
        self.member = member


class OverBound(Unreadable):
    """The archive, or a member, asks for more than the readers allow (members, header or
    link sizes, a decompressor's memory): readable perhaps, but not within bounds."""


@dataclasses.dataclass(frozen=True)
class Member:
    """One entry of an archive. ``size`` is what its header says a file unpacks to, known
    before anything is decompressed; ``chunks()`` then yields its bytes, never more than
    ``size`` in all (a member whose data would go past it is Unreadable before the excess is
    produced) and never one chunk larger than decompression.CHUNK."""

    name: str
    kind: str  # FILE, FOLDER, SYMLINK, HARDLINK or OTHER (devices, pipes, sparse files)
    size: int = 0
    executable: bool = False
    # SYMLINK: the target as the link holds it; HARDLINK: the name of an earlier member.
    link_target: str = ""
    chunks: Optional[Callable[[], Iterator[bytes]]] = None
