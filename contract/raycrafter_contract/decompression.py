"""Decompression whose output the caller bounds, for the archive readers.

Each step asks a decompressor for at most a given number of bytes (zlib, bz2 and lzma all
take ``max_length``) and feeds it compressed input only when it needs more, so a stream
that expands a million times costs no more memory than one that does not: never a whole
member, never a whole input decompressed in one call. The decompressors' own state is
bounded too: zlib keeps a 32 KiB window, bzip2 a block of at most 900 kB, and an LZMA
dictionary, which the decoder allocates at the size the stream asks for, is refused above
MAX_LZMA_DICTIONARY.
"""
import bz2
import lzma
import zlib

from .archive_members import OverBound, Unreadable

CHUNK = 64 * 1024
# ``xz -9`` and 7-Zip's ultra preset use 64 MiB; larger dictionaries are refused.
MAX_LZMA_DICTIONARY = 64 * 1024 ** 2
# The .xz decoder needs its dictionary and about 1 MiB besides.
_XZ_MEMORY_LIMIT = MAX_LZMA_DICTIONARY + 4 * 1024 ** 2
_ERRORS = (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError)


class ZlibDecompressor:
    """zlib's decompressor with the interface bz2's and lzma's have (``needs_input``):
    zlib hands back the input it did not consume, to be passed in again."""

    def __init__(self, wbits):
        self._decompressor = zlib.decompressobj(wbits)
        self._tail = b""
        self._full = False  # the last call filled max_length: more output may be pending

    def decompress(self, data, max_length):
        out = self._decompressor.decompress(self._tail + data, max_length)
        self._tail = self._decompressor.unconsumed_tail
        self._full = len(out) == max_length
        return out

    @property
    def needs_input(self):
        return not self._tail and not self._full

    @property
    def eof(self):
        return self._decompressor.eof

    @property
    def unused_data(self):
        return self._decompressor.unused_data


class StoredDecompressor:
    """Bytes stored as they are, behind the same interface."""

    eof = False
    unused_data = b""

    def __init__(self):
        self._pending = b""

    def decompress(self, data, max_length):
        data = self._pending + data
        self._pending = data[max_length:]
        return data[:max_length]

    @property
    def needs_input(self):
        return not self._pending


def _xz():
    return lzma.LZMADecompressor(lzma.FORMAT_AUTO, memlimit=_XZ_MEMORY_LIMIT)


STREAM_DECOMPRESSORS = {"gz": lambda: ZlibDecompressor(zlib.MAX_WBITS | 16),
                        "bz2": bz2.BZ2Decompressor, "xz": _xz}


class DecompressedStream:
    """The decompressed bytes of a whole compressed file read forward: each ``read(size)``
    returns ``size`` bytes, fewer only at the end, and produces no more than that.
    ``compression`` is a key of STREAM_DECOMPRESSORS, or None for bytes stored as they are.
    Streams written one after another (``cat a.gz b.gz``, pbzip2, xz -T) are read on; what
    follows the last stream and is not another one ends the data, as gzip, bzip2 and xz
    themselves treat it."""

    def __init__(self, raw, compression):
        self._raw = raw
        self._new = STREAM_DECOMPRESSORS[compression] if compression else None
        self._decompressor = self._new() if self._new else StoredDecompressor()
        self._position = 0
        self._ended = False

    def read(self, size):
        parts = []
        wanted = size
        while wanted > 0 and not self._ended:
            part = self._step(wanted)
            parts.append(part)
            wanted -= len(part)
        data = b"".join(parts)
        self._position += len(data)
        return data

    def tell(self):
        return self._position

    def skip_to(self, position):
        """Read forward to ``position``, in bounded steps."""
        while self._position < position:
            if not self.read(min(CHUNK, position - self._position)):
                raise Unreadable("the archive ends inside a member")

    def _step(self, wanted):
        decompressor = self._decompressor
        if decompressor.eof:
            following = decompressor.unused_data or self._raw.read(CHUNK)
            if not following:
                self._ended = True
                return b""
            self._decompressor = self._new()
            try:
                return self._decompressor.decompress(following, wanted)
            except _ERRORS:
                self._ended = True  # trailing bytes that are not another stream
                return b""
        data = b""
        if decompressor.needs_input:
            data = self._raw.read(CHUNK)
            if not data:
                if self._new is None:
                    self._ended = True
                    return b""
                raise Unreadable("the compressed data is cut short")
        try:
            return decompressor.decompress(data, wanted)
        except lzma.LZMAError as error:
            if "Memory usage limit" in str(error):
                raise OverBound("the archive needs more than %d bytes of memory to "
                                "decompress (its dictionary is too large)"
                                % _XZ_MEMORY_LIMIT) from None
            raise Unreadable("the compressed data is damaged (%s)" % (error,)) from None
        except _ERRORS as error:
            raise Unreadable("the compressed data is damaged (%s)" % (error,)) from None


def lzma_raw_decompressor(properties):
    """A decompressor for the raw LZMA data that follows ``properties`` (the five bytes
    giving lc, lp, pb and the dictionary size, as .zip and .lzma files store them), or
    Unreadable if they are invalid or ask for a dictionary above MAX_LZMA_DICTIONARY."""
    if len(properties) != 5 or properties[0] >= 9 * 5 * 5:
        raise Unreadable("its LZMA properties are invalid")
    literal_context, rest = properties[0] % 9, properties[0] // 9
    literal_position, position_bits = rest % 5, rest // 5
    dictionary = int.from_bytes(properties[1:5], "little")
    if dictionary > MAX_LZMA_DICTIONARY:
        raise OverBound("it asks for an LZMA dictionary of %d bytes, more than the %d "
                         "allowed" % (dictionary, MAX_LZMA_DICTIONARY))
    return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[{
        "id": lzma.FILTER_LZMA1, "dict_size": max(dictionary, 4096), "lc": literal_context,
        "lp": literal_position, "pb": position_bits}])


def bounded_chunks(read, decompressor, compressed_size, size):
    """The bytes ``decompressor`` makes of the ``compressed_size`` bytes ``read(n)`` gives,
    in chunks of at most CHUNK, stopping with Unreadable as soon as they would pass ``size``,
    or if they end before reaching it."""
    compressed_left = compressed_size
    produced = 0
    while not decompressor.eof:
        data = b""
        if decompressor.needs_input:
            if not compressed_left:
                break
            data = read(min(CHUNK, compressed_left))
            if not data:
                raise Unreadable("the archive ends inside its data")
            compressed_left -= len(data)
        try:
            # One byte more than the size allows is enough to catch a header that lies.
            out = decompressor.decompress(data, min(CHUNK, size - produced + 1))
        except _ERRORS as error:
            raise Unreadable("its compressed data is damaged (%s)" % (error,)) from None
        produced += len(out)
        if produced > size:
            raise Unreadable("it unpacks to more than the %d bytes its header gives" % size)
        if out:
            yield out
    if produced != size:
        raise Unreadable("it unpacks to %d bytes, not the %d its header gives"
                         % (produced, size))
