"""Reading a tar archive (plain, .gz, .bz2 or .xz) for the scene rule in one forward pass
with bounded memory.

tarfile parses the headers; everything it reads comes through a DecompressedStream, whose
every read produces at most what is asked. What tarfile reads to make one member (its
header block, pax records, GNU long names, GNU sparse maps, which it collects in memory) is
counted, and a member whose headers come to more than MAX_HEADER_BYTES is refused before
the read that would pass it. A member's data is read only when the rule asks for it, after
the rule has checked the size its header gives; a tar's data is exactly that size. The
archive is read forward only, never sought in, so it may come from a pipe or a channel.
"""
import tarfile

from .archive_members import (FILE, FOLDER, HARDLINK, OTHER, SYMLINK, Member, OverBound,
                              Unreadable)
from .decompression import CHUNK, DecompressedStream

# pax records and GNU long names are read in one piece, sparse maps block by block into
# one list: a member's headers above this are refused rather than held in memory.
MAX_HEADER_BYTES = 1024 * 1024
COMPRESSIONS = {"tar": None, "tar.gz": "gz", "tar.bz2": "bz2", "tar.xz": "xz"}
_TARFILE_ERRORS = (tarfile.TarError, ValueError, UnicodeError, EOFError, OverflowError,
                   IndexError)


class _CountedHeaders:
    """The file object tarfile reads: the decompressed stream, with the bytes read for a
    member's headers counted against MAX_HEADER_BYTES while ``headers_left`` is set."""

    def __init__(self, stream):
        self._stream = stream
        self.headers_left = None

    def read(self, size=-1):
        if self.headers_left is not None:
            if size is None or size < 0 or size > self.headers_left:
                raise OverBound("a member's header is larger than %d bytes"
                                 % MAX_HEADER_BYTES)
            self.headers_left -= size
        return self._stream.read(size)

    def seek(self, offset, whence=0):
        # tarfile only skips forward, over the padding after a member's data; going back
        # would mean decompressing again from the first byte.
        if whence != 0 or offset < self._stream.tell():
            raise Unreadable("the archive cannot be read in one pass")
        self._stream.skip_to(offset)
        return offset

    def tell(self):
        return self._stream.tell()


def members(raw, kind):
    """The members of the tar archive read from the binary file ``raw``, in order, as
    archive_members.Member; each file's data must be read (``chunks()``) before the next
    member is asked for."""
    counted = _CountedHeaders(DecompressedStream(raw, COMPRESSIONS[kind]))
    counted.headers_left = MAX_HEADER_BYTES
    archive = _tarfile_call(None, tarfile.open, fileobj=counted, mode="r:", encoding="utf-8",
                            errors="surrogateescape")
    while True:
        counted.headers_left = MAX_HEADER_BYTES
        info = _tarfile_call(None, archive.next)
        counted.headers_left = None
        if info is None:
            return
        archive.members.clear()  # nothing refers back to earlier members
        yield _member(archive, info)


def _member(archive, info):
    if info.isdir():
        return Member(info.name, FOLDER)
    if info.issym():
        return Member(info.name, SYMLINK, link_target=info.linkname)
    if info.islnk():
        return Member(info.name, HARDLINK, link_target=info.linkname)
    if info.isreg() and not info.issparse():
        return Member(info.name, FILE, info.size, bool(info.mode & 0o100),
                      chunks=lambda: _data(archive, info))
    return Member(info.name, OTHER)


def _data(archive, info):
    data = _tarfile_call(info.name, archive.extractfile, info)
    while True:
        chunk = _tarfile_call(info.name, data.read, CHUNK)
        if not chunk:
            return
        yield chunk


def _tarfile_call(member, function, *args, **kwargs):
    """``function(...)``, with what tarfile raises on a damaged archive made Unreadable."""
    try:
        return function(*args, **kwargs)
    except Unreadable as error:
        raise type(error)(error.reason, error.member or member) from None
    except _TARFILE_ERRORS as error:
        raise Unreadable(str(error) or type(error).__name__, member) from None
