"""Reading a .zip archive for the scene rule with bounded memory, whatever its headers
claim.

zipfile is not used: it builds an object per directory entry before anything can be
counted, and decompresses bzip2 and LZMA members, and any member read whole, without
bounding the output (a zip of one kilobyte made it allocate 2 GiB). Here the end records
come first (the number of entries and the directory's size checked against the limits),
then the central directory, then each member's local header, which must agree with the
directory about its name, method and sizes; each member's data must lie between its
header and the directory, overlapping no other member's. A member's bytes are then
decompressed in bounded steps (decompression.bounded_chunks) and must come to exactly the
size the directory gives, with its CRC-32. Stored, deflate, bzip2 and LZMA members are read;
zip64 records and extra fields, data descriptors (sizes known from the directory only)
and archives with bytes before them (self-extractors, ``zip -A``) too. Encrypted members,
other methods and archives split over several files are refused by name.
"""
import bz2
import os
import stat
import struct
import zlib

from .archive_members import FILE, FOLDER, OTHER, SYMLINK, Member, OverBound, Unreadable
from .decompression import (StoredDecompressor, ZlibDecompressor, bounded_chunks,
                            lzma_raw_decompressor)

_END = struct.Struct("<4sHHHHIIH")
_END_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_END = struct.Struct("<4sQHHIIQQQQ")
_ZIP64_END_SIGNATURE = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4sBBHHHHHIIIHHHHHII")
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_ZIP64_EXTRA = 0x0001
_MAX_END_SEARCH = _END.size + 0xFFFF  # the end record and the longest comment
_MAX_ENTRY_EXTRAS = 4096
_UNIX = 3  # "version made by": external attributes hold a Unix mode in their upper half

_ENCRYPTED, _DATA_DESCRIPTOR, _LZMA_END_MARKER, _STRONG_ENCRYPTION, _UTF8 = (
    0x1, 0x8, 0x2, 0x40, 0x800)
STORED, DEFLATED, BZIP2, LZMA, AES = 0, 8, 12, 14, 99
READABLE_METHODS = {STORED: "store", DEFLATED: "deflate", BZIP2: "bzip2", LZMA: "lzma"}
_METHOD_NAMES = {1: "shrink", 2: "reduce", 3: "reduce", 4: "reduce", 5: "reduce",
                 6: "implode", 9: "Deflate64", 10: "PKWARE implode", 18: "IBM TERSE",
                 19: "IBM LZ77", 20: "zstd", 93: "zstd", 94: "MP3", 95: "xz", 96: "JPEG",
                 97: "WavPack", 98: "PPMd"}


class _Entry:
    """A central directory entry, completed by its local header."""

    __slots__ = ("name", "flags", "method", "crc", "compressed_size", "size", "mode",
                 "header_offset", "data_offset", "raw_name")


def members(handle, limits, max_link_bytes):
    """The members of the zip archive in the seekable binary file ``handle``, in the
    central directory's order, as archive_members.Member. ``limits`` bounds the number of
    entries and their names (max_members, max_name_bytes); a link's target (its data) is
    read here, and refused above ``max_link_bytes``."""
    entries = _checked_entries(handle, limits)
    for entry in entries:
        yield _member(handle, entry, max_link_bytes)


def _member(handle, entry, max_link_bytes):
    if entry.name.endswith("/") or stat.S_ISDIR(entry.mode):
        return Member(entry.name, FOLDER)
    if stat.S_ISLNK(entry.mode):
        if entry.size > max_link_bytes:
            raise OverBound("the link's target is longer than %d bytes" % max_link_bytes,
                             entry.name)
        target = b"".join(_chunks(handle, entry))
        try:
            return Member(entry.name, SYMLINK, link_target=target.decode("utf-8"))
        except UnicodeDecodeError:
            raise Unreadable("the link's target is not valid UTF-8", entry.name) from None
    if stat.S_IFMT(entry.mode) in (0, stat.S_IFREG):
        return Member(entry.name, FILE, entry.size, bool(entry.mode & 0o100),
                      chunks=lambda: _chunks(handle, entry))
    return Member(entry.name, OTHER)


def _chunks(handle, entry):
    """The member's bytes, decompressed in bounded steps and checked against its CRC-32."""
    handle.seek(entry.data_offset)
    compressed_size = entry.compressed_size
    if entry.method == LZMA:
        # A version (2 bytes), the size of the properties (2 bytes), the properties.
        header = handle.read(min(compressed_size, 9))
        if len(header) < 9:
            raise Unreadable("its LZMA header is cut short", entry.name)
        try:
            if struct.unpack("<H", header[2:4])[0] != 5:
                raise Unreadable("its LZMA properties are invalid")
            decompressor = lzma_raw_decompressor(header[4:])
        except Unreadable as error:
            raise type(error)(error.reason, entry.name) from None
        compressed_size -= len(header)
    elif entry.method == DEFLATED:
        decompressor = ZlibDecompressor(-zlib.MAX_WBITS)
    elif entry.method == BZIP2:
        decompressor = bz2.BZ2Decompressor()
    else:
        decompressor = StoredDecompressor()
    crc = 0
    try:
        for chunk in bounded_chunks(handle.read, decompressor, compressed_size, entry.size):
            crc = zlib.crc32(chunk, crc)
            yield chunk
    except Unreadable as error:
        raise type(error)(error.reason, entry.name) from None
    if crc != entry.crc:
        raise Unreadable("its data is damaged (the CRC-32 does not match)", entry.name)


def _checked_entries(handle, limits):
    """Every entry, checked as the module says, before any member is decompressed."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    count, directory_size, directory_offset, end_offset = _end_records(handle, size)
    if count > limits.max_members:
        raise OverBound("the archive holds more than %d members" % limits.max_members)
    # An entry is 46 bytes, its name, its extra fields and comment (a few dozen bytes from
    # the usual tools; up to _MAX_ENTRY_EXTRAS allowed).
    if directory_size > count * (_CENTRAL.size + limits.max_name_bytes + _MAX_ENTRY_EXTRAS):
        raise OverBound("its central directory is larger than its entries can need")
    directory_start = end_offset - directory_size
    # Bytes before the archive (a self-extractor's program) shift every offset it gives.
    shift = directory_start - directory_offset
    if directory_start < 0 or shift < 0:
        raise Unreadable("its central directory lies outside the file")
    handle.seek(directory_start)
    directory = handle.read(directory_size)
    if len(directory) != directory_size:
        raise Unreadable("its central directory is cut short")
    entries = _parse_directory(directory, count, shift)
    for entry in entries:
        _read_local_header(handle, entry)
    previous_end, previous = 0, None
    for entry in sorted(entries, key=lambda e: e.header_offset):
        if entry.header_offset < previous_end:
            raise Unreadable("its data overlaps that of %s" % previous.name, entry.name)
        previous_end = entry.data_offset + entry.compressed_size
        previous = entry
        if previous_end > directory_start:
            raise Unreadable("its data runs past the end of the members", entry.name)
    return entries


def _end_records(handle, size):
    """(entries, directory size, directory offset as recorded, offset of the first end
    record: the zip64 one if there is one)."""
    tail_size = min(size, _MAX_END_SEARCH)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    position = tail.rfind(_END_SIGNATURE)
    if position < 0 or len(tail) < position + _END.size:
        raise Unreadable("it has no end of central directory record")
    (_, disk, directory_disk, _, count, directory_size, directory_offset,
     _) = _END.unpack_from(tail, position)
    end_offset = size - tail_size + position
    if disk or directory_disk:
        raise Unreadable("archives split over several files are not supported")
    # zip64 (Info-ZIP's zip writes it when streaming, whatever the sizes): a locator just
    # before the end record, and the zip64 end record before that.
    locator_offset = end_offset - _ZIP64_LOCATOR.size
    record_offset = locator_offset - _ZIP64_END.size
    if locator_offset >= 0:
        handle.seek(locator_offset)
        locator = _ZIP64_LOCATOR.unpack(handle.read(_ZIP64_LOCATOR.size))
        if locator[0] == _ZIP64_LOCATOR_SIGNATURE:
            if record_offset < 0:
                raise Unreadable("its zip64 end record is missing")
            handle.seek(record_offset)
            record = _ZIP64_END.unpack(handle.read(_ZIP64_END.size))
            if record[0] != _ZIP64_END_SIGNATURE:
                raise Unreadable("its zip64 end record is broken")
            if locator[1] or locator[3] > 1 or record[4] or record[5]:
                raise Unreadable("archives split over several files are not supported")
            return record[7], record[8], record[9], record_offset
    if count == 0xFFFF or 0xFFFFFFFF in (directory_size, directory_offset):
        raise Unreadable("its zip64 end records are missing")
    return count, directory_size, directory_offset, end_offset


def _parse_directory(directory, count, shift):
    entries = []
    position = 0
    for _ in range(count):
        if len(directory) < position + _CENTRAL.size:
            raise Unreadable("its central directory is cut short")
        (signature, _, made_by, _, flags, method, _, _, crc, compressed_size, size,
         name_length, extra_length, comment_length, disk, _, attributes,
         header_offset) = _CENTRAL.unpack_from(directory, position)
        if signature != _CENTRAL_SIGNATURE:
            raise Unreadable("its central directory is damaged")
        start = position + _CENTRAL.size
        position = start + name_length + extra_length + comment_length
        if len(directory) < position:
            raise Unreadable("its central directory is cut short")
        entry = _Entry()
        entry.raw_name = directory[start:start + name_length]
        entry.name = _decoded_name(entry.raw_name, flags)
        extra = directory[start + name_length:start + name_length + extra_length]
        sizes = _zip64_values(extra, (size, compressed_size, header_offset),
                              entry.name)
        entry.size, entry.compressed_size, header_offset = sizes
        if disk not in (0, 0xFFFF):
            raise Unreadable("archives split over several files are not supported")
        entry.flags, entry.method, entry.crc = flags, method, crc
        entry.mode = attributes >> 16 if made_by == _UNIX else 0
        entry.header_offset = header_offset + shift
        _check_method(entry)
        entries.append(entry)
    return entries


def _check_method(entry):
    if entry.flags & (_ENCRYPTED | _STRONG_ENCRYPTION) or entry.method == AES:
        raise Unreadable("encrypted zip members cannot be unpacked", entry.name)
    if entry.method not in READABLE_METHODS:
        name = _METHOD_NAMES.get(entry.method)
        raise Unreadable("zip compression method %d%s is not supported (use %s)"
                         % (entry.method, " (%s)" % name if name else "",
                            ", ".join(READABLE_METHODS.values())), entry.name)
    if entry.method == STORED and entry.compressed_size != entry.size:
        raise Unreadable("it is stored uncompressed, but its header gives two different "
                         "sizes", entry.name)


def _read_local_header(handle, entry):
    handle.seek(entry.header_offset)
    header = handle.read(_LOCAL.size)
    if len(header) < _LOCAL.size:
        raise Unreadable("its local header is cut short", entry.name)
    (signature, _, flags, method, _, _, crc, compressed_size, size, name_length,
     extra_length) = _LOCAL.unpack(header)
    if signature != _LOCAL_SIGNATURE:
        raise Unreadable("its local header is missing", entry.name)
    names = handle.read(name_length + extra_length)
    if len(names) < name_length + extra_length:
        raise Unreadable("its local header is cut short", entry.name)
    if names[:name_length] != entry.raw_name:
        raise Unreadable("its local header names another file", entry.name)
    if method != entry.method or (flags ^ entry.flags) & (_ENCRYPTED | _STRONG_ENCRYPTION):
        raise Unreadable("its local header and the central directory disagree about how "
                         "it is stored", entry.name)
    local_sizes = _zip64_values(names[name_length:], (size, compressed_size), entry.name,
                                required=False)
    described = (crc,) + local_sizes
    expected = (entry.crc, entry.size, entry.compressed_size)
    # With a data descriptor the sizes come after the data; the local header may hold 0.
    for local, central in zip(described, expected):
        unknown_here = entry.flags & _DATA_DESCRIPTOR and local in (0, 0xFFFFFFFF)
        if local != central and not unknown_here:
            raise Unreadable("its local header and the central directory disagree about "
                             "its size", entry.name)
    entry.data_offset = entry.header_offset + _LOCAL.size + name_length + extra_length


def _zip64_values(extra, values, member, required=True):
    """``values`` (32-bit fields, in the zip64 extra field's order) with each one that is
    0xFFFFFFFF taken from the zip64 extra field."""
    wanted = sum(1 for value in values if value == 0xFFFFFFFF)
    if not wanted:
        return values
    position = 0
    while position + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, position)
        body = extra[position + 4:position + 4 + length]
        position += 4 + length
        if kind != _ZIP64_EXTRA:
            continue
        if len(body) < 8 * wanted or len(body) < length:
            break
        found = iter(struct.unpack_from("<%dQ" % wanted, body))
        return tuple(next(found) if value == 0xFFFFFFFF else value for value in values)
    if required:
        raise Unreadable("its zip64 sizes are missing", member)
    return values


def _decoded_name(raw, flags):
    """The member's name as its maker meant it. Info-ZIP's zip writes UTF-8 names without
    the flag that says so: such a name is taken as UTF-8 when its bytes are UTF-8, as unzip
    does, else as code page 437 (the zip format's own)."""
    if flags & _UTF8:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Unreadable("a member's name is not valid UTF-8") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437")
