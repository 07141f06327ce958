"""Archives built to cost the scene rule memory or time when checked, for the tests and
bench/hostile_uploads.py: decompression bombs in every compression the rule reads, zip
members and links whose headers lie about their sizes, tar headers that tarfile would
collect in memory, decoders asking for huge dictionaries, and many small members.

The zip writer here writes the records itself, so that a test can say anything in them
(the sizes, the mode, the method) that no honest tool would. Compressed payloads are
cached per process: a bomb of 1 GiB of zeros takes seconds to compress.
"""
import bz2
import dataclasses
import functools
import io
import lzma
import os
import pathlib
import stat
import struct
import subprocess
import tarfile
import tempfile
import zlib

MIB = 1024 * 1024
SCENE = b"sphere { 0, 1 pigment { rgb 1 } }\n"
_ZEROS = b"\0" * MIB
ZIP_METHODS = {"store": 0, "deflate": 8, "bzip2": 12, "lzma": 14}
# LZMA in a zip: lc=3, lp=0, pb=2 in one byte, then the dictionary size.
_LZMA_FILTER = {"id": lzma.FILTER_LZMA1, "preset": 0, "dict_size": MIB, "lc": 3, "lp": 0,
                "pb": 2}


def zeros(size):
    """``size`` zero bytes, a MiB at a time."""
    while size > 0:
        yield _ZEROS[:min(size, MIB)]
        size -= MIB


def lzma_properties(dict_size):
    return bytes([(2 * 5 + 0) * 9 + 3]) + struct.pack("<I", dict_size)


@functools.lru_cache(maxsize=None)
def compressed_zeros(method, size):
    """(the data of a zip member holding ``size`` zeros compressed by ``method``, CRC-32)."""
    crc = 0
    for chunk in zeros(size):
        crc = zlib.crc32(chunk, crc)
    if method == "store":
        return b"\0" * size, crc
    if method == "deflate":
        compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        head = b""
    elif method == "bzip2":
        compressor = bz2.BZ2Compressor(9)
        head = b""
    else:
        compressor = lzma.LZMACompressor(lzma.FORMAT_RAW, filters=[_LZMA_FILTER])
        head = struct.pack("<BBH", 9, 4, 5) + lzma_properties(_LZMA_FILTER["dict_size"])
    parts = [head] + [compressor.compress(chunk) for chunk in zeros(size)]
    return b"".join(parts + [compressor.flush()]), crc


@dataclasses.dataclass
class ZipEntry:
    """A member as written: ``data`` as stored (compressed), and what the headers say."""

    name: str
    data: bytes
    method: str = "store"
    crc: int = 0
    size: int = 0
    mode: int = None  # a Unix mode, or None for an entry without one
    flags: int = 0


def stored(name, content, mode=None):
    return ZipEntry(name, content, "store", zlib.crc32(content), len(content), mode)


def zip_archive(entries):
    """A .zip of ``entries`` (ZipEntry), every header saying what the entry says."""
    out = io.BytesIO()
    directory = []
    for entry in entries:
        name = entry.name.encode("utf-8")
        flags = entry.flags | 0x800 | (0x2 if entry.method == "lzma" else 0)
        method = ZIP_METHODS[entry.method]
        offset = out.tell()
        out.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 63, flags, method, 0, 0x21,
                              entry.crc, len(entry.data), entry.size, len(name), 0))
        out.write(name)
        out.write(entry.data)
        made_by, attributes = (3, entry.mode << 16) if entry.mode is not None else (0, 0)
        directory.append(struct.pack("<4sBBHHHHHIIIHHHHHII", b"PK\x01\x02", 63, made_by, 63,
                                     flags, method, 0, 0x21, entry.crc, len(entry.data),
                                     entry.size, len(name), 0, 0, 0, 0, attributes, offset)
                         + name)
    start = out.tell()
    out.write(b"".join(directory))
    out.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries),
                          out.tell() - start, start, 0))
    return out.getvalue()


def zip_bomb(method, size):
    """A scene and ``size`` zeros compressed by ``method``, honestly described."""
    data, crc = compressed_zeros(method, size)
    return zip_archive([stored("scene.pov", SCENE),
                        ZipEntry("zeros", data, method, crc, size)])


def zip_link_bomb(method, size):
    """A link member (its data is its target) saying it holds 9 bytes, ``scene.pov``,
    whose data is ``size`` zeros compressed by ``method``."""
    data, crc = compressed_zeros(method, size)
    return zip_archive([stored("scene.pov", SCENE),
                        ZipEntry("link.pov", data, method, crc, 9, stat.S_IFLNK | 0o777)])


def zip_lying_about_size(method, claimed, size):
    """A member whose headers say it unpacks to ``claimed`` bytes; it holds ``size``."""
    data, crc = compressed_zeros(method, size)
    return zip_archive([stored("scene.pov", SCENE),
                        ZipEntry("zeros.inc", data, method, crc, claimed)])


def zip_lzma_dictionary(dict_size):
    """An LZMA member whose properties ask for a dictionary of ``dict_size`` bytes."""
    data, crc = compressed_zeros("lzma", 1000)
    data = data[:4] + lzma_properties(dict_size) + data[9:]
    return zip_archive([stored("scene.pov", SCENE),
                        ZipEntry("z.inc", data, "lzma", crc, 1000)])


def zip_many_members(count):
    return zip_archive([stored("scene.pov", SCENE)]
                       + [stored(f"inc/{i}.inc", b"") for i in range(count)])


def tar_archive(members, compression="gz", tar_format=tarfile.PAX_FORMAT):
    """A tar (``compression``: "", "gz", "bz2" or "xz") of (TarInfo, file object or None)."""
    buffer = io.BytesIO()
    options = {"preset": 0} if compression == "xz" else (
        {"compresslevel": 1} if compression in ("gz", "bz2") else {})
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}", format=tar_format,
                      **options) as tar:
        for info, data in members:
            tar.addfile(info, data)
    return buffer.getvalue()


def file_info(name, size):
    info = tarfile.TarInfo(name)
    info.size = size
    return info


class _Zeros(io.RawIOBase):
    def __init__(self, size):
        self.left = size

    def readable(self):
        return True

    def readinto(self, view):
        count = min(len(view), self.left)
        view[:count] = b"\0" * count
        self.left -= count
        return count


def tar_bomb(compression, size):
    """A scene and ``size`` zeros in a tar compressed by ``compression``."""
    return tar_archive([(file_info("scene.pov", len(SCENE)), io.BytesIO(SCENE)),
                        (file_info("zeros", size), _Zeros(size))], compression)


def tar_claiming(size):
    """A .tar.gz whose second member's header says ``size`` bytes and whose data stops
    after a MiB: refused for what the header says, before the data is missed."""
    scene = file_info("scene.pov", len(SCENE)).tobuf(tarfile.GNU_FORMAT)
    zeros_header = file_info("zeros", size).tobuf(tarfile.GNU_FORMAT)
    padding = b"\0" * (-len(SCENE) % 512)
    return _gzip(scene + SCENE + padding + zeros_header + b"\0" * MIB)


def _gzip(data):
    compressor = zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return compressor.compress(data) + compressor.flush()


def _gzip_repeated(head, block, count, tail=b""):
    """``head``, ``count`` times ``block``, ``tail``, gzip-compressed as it is written."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    parts = [compressor.compress(head)]
    run = block * max(1, MIB // len(block))
    left = count
    while left > 0:
        step = min(left, len(run) // len(block))
        parts.append(compressor.compress(run[:step * len(block)]))
        left -= step
    parts += [compressor.compress(tail), compressor.flush()]
    return b"".join(parts)


def _checksummed(block):
    block = bytearray(block)
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def tar_pax_header_bomb(size):
    """A pax header of ``size`` bytes, which tarfile reads in one piece."""
    info = tarfile.TarInfo("././@PaxHeader")
    info.type, info.size = tarfile.XHDTYPE, size
    record = b"%d comment=" % size
    return _gzip_repeated(info.tobuf(tarfile.USTAR_FORMAT) + record, b"a",
                          size - len(record))


def tar_sparse_map_bomb(blocks):
    """A GNU sparse member followed by ``blocks`` extension blocks of 21 sparse entries
    each, which tarfile collects into one list before it returns the member."""
    header = bytearray(file_info("sparse.inc", 0).tobuf(tarfile.GNU_FORMAT))
    header[156:157] = tarfile.GNUTYPE_SPARSE
    header[482] = 1  # extended: more sparse entries follow in blocks of their own
    entry = b"%011o\0%011o\0" % (512, 512)
    extension = entry * 21 + b"\1" + b"\0" * 7
    return _gzip_repeated(_checksummed(header), extension, blocks)


def tar_pax_sparse_map_bomb(numbers):
    """A pax member in GNU's sparse format 1.0, whose map (read by tarfile into one list
    before the member is returned) holds ``numbers`` numbers."""
    records = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
               "GNU.sparse.name": "sparse.inc", "GNU.sparse.realsize": "1000"}
    pax = b"".join(_pax_record(key, value) for key, value in records.items())
    info = tarfile.TarInfo("././@PaxHeader")
    info.type, info.size = tarfile.XHDTYPE, len(pax)
    header = info.tobuf(tarfile.USTAR_FORMAT) + pax + b"\0" * (-len(pax) % 512)
    member = file_info("GNUSparseFile.0/sparse.inc", 5 * numbers + 16)
    head = header + member.tobuf(tarfile.USTAR_FORMAT) + b"%d\n" % numbers
    return _gzip_repeated(head, b"1000\n", numbers)


def _pax_record(key, value):
    body = f" {key}={value}\n".encode()
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length = len(str(length)) + len(body)
    return str(length).encode() + body


def tar_xz_dictionary(dict_size, size):
    """A .tar.xz of a scene and ``size`` zeros whose LZMA2 block says it needs a
    dictionary of ``dict_size`` bytes (a power of two): the decoder allocates what the
    stream asks for."""
    plain = tar_archive([(file_info("scene.pov", len(SCENE)), io.BytesIO(SCENE)),
                         (file_info("zeros", size), _Zeros(size))], "")
    data = bytearray(lzma.compress(plain, lzma.FORMAT_XZ, filters=[
        {"id": lzma.FILTER_LZMA2, "preset": 0, "dict_size": MIB}]))
    # Stream header (12 bytes), then the block header: its size, flags, the filter
    # (id 0x21, one byte of properties: the dictionary size), padding, CRC-32.
    block = 12
    header_size = (data[block] + 1) * 4
    assert data[block + 2:block + 4] == b"\x21\x01"
    data[block + 4] = 2 * (dict_size.bit_length() - 1) - 24
    data[block + header_size - 4:block + header_size] = struct.pack(
        "<I", zlib.crc32(bytes(data[block:block + header_size - 4])))
    return bytes(data)


def tar_of(members):
    """A .tar.gz from (name, data[, mode]) or (TarInfo, None) entries."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for entry in members:
            if isinstance(entry[0], tarfile.TarInfo):
                tar.addfile(entry[0])
                continue
            name, data, *mode = entry
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), (mode[0] if mode else 0o644)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def member(name, kind=tarfile.REGTYPE, linkname=""):
    """A member without data: a link, a folder, a device."""
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, None


# Scenes the rule refuses for what their members are: names and links that reach outside
# the scene, files that are no regular files, names that clash; each with words of the
# refusal. Built with tar_of.
REFUSED_TARS = {
    "dot-dot": ([("scene.pov", SCENE), ("a/../../evil", b"x")], "'..'"),
    "absolute symlink": ([("scene.pov", SCENE), member("l", tarfile.SYMTYPE, "/etc/passwd")],
                         "relative"),
    "symlink out": ([("scene.pov", SCENE), member("a/l", tarfile.SYMTYPE, "../../x")],
                    "stay inside"),
    "symlink to a folder": ([("scene.pov", SCENE), ("d/x.inc", b""),
                             member("l", tarfile.SYMTYPE, "d")], "folders"),
    "dangling symlink": ([("scene.pov", SCENE), member("l", tarfile.SYMTYPE, "nope")],
                         "not in the scene"),
    "link loop": ([("scene.pov", SCENE), member("a", tarfile.SYMTYPE, "b"),
                   member("b", tarfile.SYMTYPE, "a")], "circles"),
    "hard link out": ([("scene.pov", SCENE), member("h", tarfile.LNKTYPE, "../etc/shadow")],
                      "'..'"),
    "hard link to nothing": ([("scene.pov", SCENE), member("h", tarfile.LNKTYPE, "nope")],
                             "not in the scene"),
    "device": ([("scene.pov", SCENE), member("dev", tarfile.CHRTYPE)], "only files"),
    "fifo": ([("scene.pov", SCENE), member("fifo", tarfile.FIFOTYPE)], "only files"),
    "name twice": ([("scene.pov", SCENE), ("scene.pov", SCENE)], "twice"),
    "file and folder": ([("scene.pov", SCENE), ("a", b""), ("a/b", b"")], "both a file"),
    "newline in a name": ([("scene.pov", SCENE), ("a\nb", b"")], "control characters"),
    "long name": ([("scene.pov", SCENE), ("x" * 256, b"")], "longer than 255"),
    "deep folders": ([("scene.pov", SCENE), ("d/" * 40 + "f", b"")], "deeper"),
}


def link_in_a_folder_of_its_own():
    """``tar -czf`` of files named one by one: links/ has no entry, only a link."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        (folder / "inc").mkdir()
        (folder / "links").mkdir()
        (folder / "scene.pov").write_bytes(SCENE)
        (folder / "inc" / "a.inc").write_bytes(b"// a\n")
        os.symlink("../inc/a.inc", folder / "links" / "a.inc")
        subprocess.run(["tar", "-czf", "s.tar.gz", "scene.pov", "inc/a.inc", "links/a.inc"],
                       cwd=folder, check=True)
        return (folder / "s.tar.gz").read_bytes()


def zip_claiming_members(count):
    data = bytearray(zip_archive([stored("scene.pov", SCENE)]))
    end = data.rindex(b"PK\x05\x06")
    data[end + 8:end + 12] = count.to_bytes(2, "little") * 2
    return bytes(data)


def tar_of_many_members(count):
    return tar_archive([(file_info(f"inc/{i}.inc", 0), None)
                                for i in range(count)], "")


# What bench/hostile_uploads.py posts to the API, and tests/worker replays on the login
# node: (label, upload name, builder, what the rule does: "refused" or "accepted").
BOMB = 1024 * MIB
UPLOADS = [
    ("plain scene", "scene.pov", lambda: SCENE, "accepted"),
    ("zip, deflate bomb (1 GiB)", "bomb.zip", lambda: zip_bomb("deflate", BOMB),
     "refused"),
    ("zip, bzip2 bomb (1 GiB)", "bomb.zip", lambda: zip_bomb("bzip2", BOMB),
     "refused"),
    ("zip, LZMA bomb (1 GiB)", "bomb.zip", lambda: zip_bomb("lzma", BOMB), "refused"),
    ("zip link member, deflate bomb", "link.zip",
     lambda: zip_link_bomb("deflate", BOMB), "refused"),
    ("zip link member, bzip2 bomb", "link.zip", lambda: zip_link_bomb("bzip2", BOMB),
     "refused"),
    ("zip link member, LZMA bomb", "link.zip", lambda: zip_link_bomb("lzma", BOMB),
     "refused"),
    ("zip member lying about its size", "lies.zip",
     lambda: zip_lying_about_size("bzip2", 1000, BOMB), "refused"),
    ("zip, LZMA dictionary of 1 GiB", "dict.zip",
     lambda: zip_lzma_dictionary(1 << 30), "refused"),
    ("zip claiming 60,000 members", "claims.zip", lambda: zip_claiming_members(60_000),
     "refused"),
    ("tar.gz bomb (1 GiB)", "bomb.tar.gz", lambda: tar_bomb("gz", BOMB), "refused"),
    ("tar.bz2 bomb (1 GiB)", "bomb.tar.bz2", lambda: tar_bomb("bz2", BOMB),
     "refused"),
    ("tar.xz bomb (1 GiB)", "bomb.tar.xz", lambda: tar_bomb("xz", BOMB), "refused"),
    ("tar.xz, dictionary of 1 GiB", "dict.tar.xz",
     lambda: tar_xz_dictionary(1 << 30, 150 * MIB), "refused"),
    ("tar header claiming 1 TiB", "claims.tar.gz", lambda: tar_claiming(1 << 40),
     "refused"),
    ("tar, pax header of 512 MiB", "header.tar.gz",
     lambda: tar_pax_header_bomb(512 * MIB), "refused"),
    ("tar, GNU sparse map (4M entries)", "sparse.tar.gz",
     lambda: tar_sparse_map_bomb(200_000), "refused"),
    ("tar, pax sparse map (20M numbers)", "sparse.tar.gz",
     lambda: tar_pax_sparse_map_bomb(20_000_000), "refused"),
    ("tar, 100,000 small members", "many.tar", lambda: tar_of_many_members(100_000),
     "refused"),
    ("tar, link in a folder without entry", "s.tar.gz", link_in_a_folder_of_its_own,
     "accepted"),
    ("200 MiB of random bytes", "noise.zip", lambda: os.urandom(200 * MIB), "refused"),
]
