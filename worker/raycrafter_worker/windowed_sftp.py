"""SFTP with a bounded window of requests in flight, over one channel of the worker's SSH
connection.

paramiko's own ``get`` asks for a whole file at once (its prefetch sends a read request for
every block before the first answer is in) and keeps every answer in memory until it is
consumed: 1 GiB took 10 s, sometimes 150 to 300 s, and as much memory as the server sent
ahead. Here at most ``IN_FLIGHT_BYTES`` of reads or writes are outstanding at any time, in
requests as large as the server allows (OpenSSH's ``limits@openssh.com``: 255 KiB), and
each answer is written to disk as it arrives; the channel's window is twice that, so the
server never waits for it and paramiko never buffers more. Memory is the same for 1 KiB
and 10 GiB, and round trips cost once per window, not once per block.

Files are written under a partial name and renamed into place only when every byte is in:
a download to ``LOCAL.partial``, an upload to the partial path its caller gives. A transfer
cut off (connection lost, worker killed) leaves the partial file, and the next transfer of
the same file resumes from its length; the caller's checksum comparison afterwards is the proof, and a
mismatch starts that file again from nothing. Per file, the requests that need no answer
first go together: opening and asking the size is one round trip. A small file down then
costs a round trip for its data and one for the close (a short read is asked for again on
the open handle); up, its data and the close travel together, and the rename, sent once
every write has succeeded, is the third: as many as paramiko's ``put`` takes without a
partial name.

The protocol is version 3 as OpenSSH's sftp-server speaks it (draft-ietf-secsh-filexfer-02,
and the ``limits`` and ``posix-rename`` extensions of OpenSSH's PROTOCOL). Failures are
OSError (errno ENOENT or EACCES where the server says so, none otherwise), EOFError for a
channel that closed, TimeoutError for a server that stalled for ``STALL_SECONDS``.
"""
import errno
import os
import struct

IN_FLIGHT_BYTES = 8 * 1024 * 1024
WINDOW_BYTES = 2 * IN_FLIGHT_BYTES
# What any SFTP server must accept; OpenSSH offers more through its limits extension.
DEFAULT_BLOCK = 32 * 1024
MAX_BLOCK = 255 * 1024
STALL_SECONDS = 120.0
PARTIAL_SUFFIX = ".partial"

_INIT, _VERSION, _OPEN, _CLOSE, _READ, _WRITE = 1, 2, 3, 4, 5, 6
_FSETSTAT, _STAT, _RENAME, _REMOVE = 10, 17, 18, 13
_STATUS, _HANDLE, _DATA, _ATTRS = 101, 102, 103, 105
_EXTENDED, _EXTENDED_REPLY = 200, 201
_READ_FLAG, _WRITE_FLAG, _CREATE, _TRUNCATE = 0x1, 0x2, 0x8, 0x10
_SIZE_ATTRIBUTE, _PERMISSIONS_ATTRIBUTE = 0x1, 0x4
_OK, _EOF, _NO_SUCH_FILE, _PERMISSION_DENIED = 0, 1, 2, 3
_ERRNOS = {_NO_SUCH_FILE: errno.ENOENT, _PERMISSION_DENIED: errno.EACCES}
_LIMITS, _POSIX_RENAME = b"limits@openssh.com", b"posix-rename@openssh.com"
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


def _string(data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    return _U32.pack(len(data)) + data


class WindowedSftp:
    """One SFTP session on ``channel`` (a paramiko session channel, not yet started)."""

    def __init__(self, channel):
        self._channel = channel
        self._incoming = b""  # the last bytes received, read from _taken on
        self._taken = 0
        self._next_id = 0
        self._arrived = {}  # request id -> (type, body) read while waiting for another
        channel.settimeout(STALL_SECONDS)
        channel.invoke_subsystem("sftp")
        self._send(_INIT, _U32.pack(3))
        kind, body = self._packet()
        if kind != _VERSION:
            raise OSError(f"the SFTP server answered its greeting with packet type {kind}")
        self.extensions = _extensions(body[4:])
        self.read_block = self.write_block = DEFAULT_BLOCK
        if _LIMITS in self.extensions:
            _, reads, writes = _limits(self._answer(self._extended(_LIMITS, b"")))
            self.read_block = min(reads or DEFAULT_BLOCK, MAX_BLOCK)
            self.write_block = min(writes or DEFAULT_BLOCK, MAX_BLOCK)

    # -- whole files ------------------------------------------------------------------------

    def download(self, remote, local):
        """Copy the cluster's file ``remote`` to ``local``, resuming ``local.partial``."""
        partial = local + PARTIAL_SUFFIX
        opened = self._request(_OPEN, _string(remote) + _U32.pack(_READ_FLAG) + _U32.pack(0))
        sized = self._request(_STAT, _string(remote))
        handle = self._handle(self._answer(opened), remote)
        try:
            size = _size(self._answer(sized), remote)
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                start = os.fstat(fd).st_size
                if start > size:
                    os.ftruncate(fd, 0)
                    start = 0
                self._read_into(handle, fd, start, size, remote)
            finally:
                os.close(fd)
        finally:
            self._close(handle, remote)
        os.replace(partial, local)

    def upload(self, local, remote, partial):
        """Copy ``local`` to the cluster's ``remote`` through the cluster path ``partial``,
        resuming what a transfer cut off left there."""
        size = os.path.getsize(local)
        existing = self._request(_STAT, _string(partial))
        opened = self._request(_OPEN, _string(partial) + _U32.pack(_WRITE_FLAG | _CREATE)
                               + _U32.pack(_PERMISSIONS_ATTRIBUTE) + _U32.pack(0o600))
        try:
            start = _size(self._answer(existing), partial)
        except FileNotFoundError:
            start = 0
        handle = self._handle(self._answer(opened), remote)
        closing = None
        try:
            if start > size:
                self._answer(self._request(_FSETSTAT, _string(handle) + _U32.pack(
                    _SIZE_ATTRIBUTE) + _U64.pack(size)))
                start = 0
            with open(local, "rb") as source:
                source.seek(start)
                last_window = self._write_from(handle, source, start, size, remote)
            # The server answers in order: the close travels with the last data.
            closing = self._request(_CLOSE, _string(handle))
            for request in last_window:
                self._answer(request, remote)
        finally:
            if closing is None:
                self._close(handle, remote)
            else:
                self._answer(closing, remote)
        # Only once every write is known to have succeeded does the file take its name.
        self.rename(partial, remote)

    # -- single requests ----------------------------------------------------------------------

    def size(self, path):
        """The size of the cluster's file ``path``, or None if there is none."""
        try:
            return _size(self._answer(self._request(_STAT, _string(path))), path)
        except FileNotFoundError:
            return None

    def rename(self, old, new):
        """Rename ``old`` to ``new``, replacing ``new`` in one step where the server can
        (OpenSSH's posix-rename); otherwise ``new`` is removed first."""
        if _POSIX_RENAME in self.extensions:
            self._answer(self._extended(_POSIX_RENAME, _string(old) + _string(new)))
            return
        try:
            self._answer(self._request(_REMOVE, _string(new)))
        except FileNotFoundError:
            pass
        self._answer(self._request(_RENAME, _string(old) + _string(new)))

    # -- the windows --------------------------------------------------------------------------

    def _read_into(self, handle, fd, offset, size, remote):
        """Read ``remote`` from ``offset`` to ``size`` into the file descriptor ``fd``."""
        pending = []  # (request id, offset, length), oldest first
        in_flight = 0
        wanted = offset
        while wanted < size or pending:
            while wanted < size and in_flight < IN_FLIGHT_BYTES:
                length = min(self.read_block, size - wanted)
                pending.append((self._request(_READ, _string(handle) + _U64.pack(wanted)
                                              + _U32.pack(length)), wanted, length))
                wanted += length
                in_flight += length
            request, at, length = pending.pop(0)
            in_flight -= length
            kind, body = self._response(request)
            if kind != _DATA:
                _raise_status(body, remote, ended=f"{remote} ended at {at} bytes, before "
                                                  f"the {size} it had")
            count = _U32.unpack_from(body)[0]
            os.pwrite(fd, body[4:4 + count], at)
            if count < length:  # a short read: the rest is asked for again
                pending.insert(0, (self._request(_READ, _string(handle) + _U64.pack(
                    at + count) + _U32.pack(length - count)), at + count, length - count))
                in_flight += length - count

    def _write_from(self, handle, source, offset, size, remote):
        """Send ``source`` from ``offset`` to ``size`` as writes, at most IN_FLIGHT_BYTES
        unanswered; returns the requests of the last window, whose answers are the
        caller's to read."""
        pending = []
        in_flight = 0
        while offset < size:
            while in_flight >= IN_FLIGHT_BYTES:
                request, length = pending.pop(0)
                in_flight -= length
                self._answer(request, remote)
            data = source.read(min(self.write_block, size - offset))
            if not data:
                raise OSError(f"{source.name} became shorter while it was sent")
            pending.append((self._request(_WRITE, _string(handle) + _U64.pack(offset)
                                          + _string(data)), len(data)))
            offset += len(data)
            in_flight += len(data)
        return [request for request, _ in pending]

    # -- requests and answers -------------------------------------------------------------------

    def _request(self, kind, payload):
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        self._send(kind, _U32.pack(self._next_id) + payload)
        return self._next_id

    def _extended(self, name, payload):
        return self._request(_EXTENDED, _string(name) + payload)

    def _answer(self, request, what=""):
        """The body of the answer to ``request`` when it succeeded; OSError when not."""
        kind, body = self._response(request)
        if kind == _STATUS:
            _raise_status(body, what)
        return kind, body

    def _response(self, request):
        """(type, body after the request id) of the answer to ``request``."""
        if request in self._arrived:
            return self._arrived.pop(request)
        while True:
            kind, body = self._packet()
            answered = _U32.unpack_from(body)[0]
            if answered == request:
                return kind, body[4:]
            # Answers come in the order asked; one that does not is kept as it is.
            self._arrived[answered] = (kind, memoryview(bytes(body[4:])))

    def _handle(self, answer, what):
        kind, body = answer
        if kind != _HANDLE:
            raise OSError(f"{what}: the SFTP server answered an open with packet type {kind}")
        return bytes(body[4:4 + _U32.unpack_from(body)[0]])

    def _close(self, handle, what):
        self._answer(self._request(_CLOSE, _string(handle)), what)

    def _send(self, kind, payload):
        self._channel.sendall(_U32.pack(len(payload) + 1) + bytes((kind,)) + payload)

    def _packet(self):
        """(type, body) of the next packet from the server; the body is a view into what
        was received, copied only when a packet spans two receipts."""
        length = _U32.unpack_from(self._take(4))[0]
        packet = self._take(length)
        return packet[0], packet[1:]

    def _take(self, count):
        """The next ``count`` bytes received. Everything the channel holds is taken at
        once (paramiko moves the rest of its buffer on each partial read)."""
        available = len(self._incoming) - self._taken
        if available >= count:
            self._taken += count
            return memoryview(self._incoming)[self._taken - count:self._taken]
        parts = [memoryview(self._incoming)[self._taken:]]
        while available < count:
            data = self._channel.recv(WINDOW_BYTES)
            if not data:
                raise EOFError("the SFTP channel closed")
            needed = min(count - available, len(data))
            parts.append(memoryview(data)[:needed])
            available += needed
            self._incoming, self._taken = data, needed
        return memoryview(b"".join(parts))


def _raise_status(body, what, ended=None):
    """Raise what a STATUS body (after its request id) says, unless it says OK."""
    code = _U32.unpack_from(body)[0]
    if code == _OK:
        return
    text_length = _U32.unpack_from(body, 4)[0] if len(body) >= 8 else 0
    text = bytes(body[8:8 + text_length]).decode("utf-8", "replace") or f"status {code}"
    if code == _EOF and ended:
        raise OSError(ended)
    number = _ERRNOS.get(code)
    if number is not None:
        raise OSError(number, text, what) if what else OSError(number, text)
    raise OSError(f"{what}: {text}" if what else text)


def _size(answer, what):
    kind, body = answer
    flags = _U32.unpack_from(body)[0] if kind == _ATTRS else 0
    if not flags & _SIZE_ATTRIBUTE:
        raise OSError(f"{what}: the SFTP server did not give its size")
    return _U64.unpack_from(body, 4)[0]


def _extensions(body):
    names, at = {}, 0
    while at < len(body):
        name_length = _U32.unpack_from(body, at)[0]
        name = bytes(body[at + 4:at + 4 + name_length])
        at += 4 + name_length
        data_length = _U32.unpack_from(body, at)[0]
        names[name] = bytes(body[at + 4:at + 4 + data_length])
        at += 4 + data_length
    return names


def _limits(answer):
    """(packet, read, write) lengths from a limits@openssh.com reply; 0 is no limit."""
    kind, body = answer
    if kind != _EXTENDED_REPLY or len(body) < 24:
        return 0, 0, 0
    return tuple(_U64.unpack_from(body, at)[0] for at in (0, 8, 16))
