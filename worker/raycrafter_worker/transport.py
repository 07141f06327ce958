"""One SSH connection per cluster (paramiko), reused across tasks and reopened on failure.

Host keys are pinned: only the profile's known_hosts file is loaded and unknown or
changed keys are refused (RejectPolicy), never learnt. Every command has a deadline, so a
hung login node costs a timeout, not a stuck worker. The threads sharing the connection
open at most MAX_SESSIONS channels at once, and a session the login node refuses is waited
for, never a reason to drop a connection other commands are using. Failures are converted
to the worker's two error classes here, in one place.

Data moves on the same connection: SFTP with a bounded window (windowed_sftp.py), and
commands whose standard input or output is a stream (``stream``), such as a scene sent to
the login node as one archive or frames coming back as one tar.
"""
import contextlib
import dataclasses
import logging
import socket
import threading
import time

import paramiko

from .errors import PermanentError, TransientError
from .windowed_sftp import STALL_SECONDS, WINDOW_BYTES, WindowedSftp

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 15.0
# sshd allows 10 sessions on one connection (OpenSSH's MaxSessions default) and counts a
# closed one until its process is reaped, a moment later: the worker's threads open fewer
# at once, and a refusal all the same is waited out on the same connection.
MAX_SESSIONS = 6
# AES-GCM first: it encrypts and authenticates in one pass, where paramiko's first choice,
# AES-CTR with HMAC-SHA2-256, takes two; sshd here moved a stream of 256 MiB at 47 MiB/s
# with the latter and 236 MiB/s with the former, and a transfer is bound by that CPU.
_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


@dataclasses.dataclass(frozen=True)
class Result:
    status: int
    stdout: str
    stderr: str


class SshTransport:
    def __init__(self, profile):
        self.profile = profile
        self._client = None
        self._lock = threading.Lock()
        self._sessions = threading.BoundedSemaphore(MAX_SESSIONS)

    def run(self, command, stdin=None, timeout=None):
        """Run ``command`` (already shell-quoted) on the login node; returns its Result.

        A non-zero exit status is returned, not raised: what it means is the caller's
        business (command_failures.py classifies it).
        """
        timeout = timeout or self.profile.command_timeout_seconds
        deadline = time.monotonic() + timeout
        with self._session_slot(deadline, command):
            client, channel = self._open_session(deadline)
            try:
                return self._exchange(channel, command, stdin, deadline, timeout)
            except (paramiko.SSHException, OSError, EOFError) as error:
                self._drop(client)
                raise TransientError(f"{self._where()}: SSH connection lost while running "
                                     f"{_short(command)}: {error}")
            finally:
                _close(channel)

    @contextlib.contextmanager
    def sftp(self):
        """An SFTP session (WindowedSftp) over the shared connection, for the ``with``
        block."""
        deadline = time.monotonic() + self.profile.command_timeout_seconds
        with self._session_slot(deadline, "an SFTP session"):
            client, channel = self._open_session(deadline, WINDOW_BYTES)
            try:
                sftp = WindowedSftp(channel)
            except (paramiko.SSHException, OSError, EOFError) as error:
                _close(channel)
                self._drop(client)
                raise TransientError(f"{self._where()}: cannot open an SFTP session: {error}")
            try:
                yield sftp
            finally:
                _close(channel)

    @contextlib.contextmanager
    def stream(self, command):
        """Run ``command`` (already shell-quoted) on the login node with its standard
        input and output as streams: a RemoteStream for the ``with`` block. The command
        may run as long as data moves; nothing moving for STALL_SECONDS is a failure. A
        lost connection is a TransientError."""
        deadline = time.monotonic() + self.profile.command_timeout_seconds
        with self._session_slot(deadline, _short(command)):
            client, channel = self._open_session(deadline, WINDOW_BYTES)
            stream = RemoteStream(channel, f"{self._where()}: {_short(command)}",
                                  lambda: self._drop(client))
            try:
                # As in _exchange: whatever the command leaves of its input is read, so
                # that the end of input never follows the command's close.
                stream.start(f"( {command}\n); s=$?; cat > /dev/null; exit $s")
                yield stream
            finally:
                _close(channel)

    def close(self):
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    @contextlib.contextmanager
    def _session_slot(self, deadline, what):
        if not self._sessions.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise TransientError(f"{self._where()}: no SSH session free for {_short(what)} "
                                 f"before its deadline")
        try:
            yield
        finally:
            self._sessions.release()

    def _open_session(self, deadline, window_size=None):
        """(client, a new session channel on it). A quick refusal on a live connection
        means the login node has as many sessions open as it allows: that is waited out,
        never a reason to drop the connection other commands are using."""
        delay = 0.02
        while True:
            client = self._connected()
            transport = client.get_transport()
            asked = time.monotonic()
            try:
                return client, transport.open_session(window_size=window_size,
                                                      timeout=CONNECT_TIMEOUT)
            except (paramiko.SSHException, OSError, EOFError) as error:
                refused = transport.is_active() and time.monotonic() - asked < CONNECT_TIMEOUT
                if not refused:
                    self._drop(client)
                    raise TransientError(f"{self._where()}: cannot open an SSH channel: "
                                         f"{error}")
                if time.monotonic() + delay > deadline:
                    raise TransientError(f"{self._where()}: the login node refused every "
                                         f"new session until the deadline: {error}")
            time.sleep(delay)
            delay = min(2 * delay, 0.5)

    def _exchange(self, channel, command, stdin, deadline, timeout):
        channel.settimeout(1.0)
        # paramiko sends the EOF of shutdown_write after releasing the channel's lock, so it
        # can follow the CLOSE with which paramiko answers a command that already ended
        # (paramiko#1705), and sshd drops the whole connection for it, cutting off every
        # command on it. So a command without stdin gets no EOF (none of the worker's reads
        # stdin unless given one), and one with stdin reads all of it before it ends.
        if stdin is None:
            channel.exec_command(command)
        else:
            channel.exec_command(f"( {command}\n); s=$?; cat > /dev/null; exit $s")
            channel.sendall(stdin if isinstance(stdin, bytes) else stdin.encode())
            channel.shutdown_write()
        out, err = bytearray(), bytearray()
        while True:
            progressed = False
            while channel.recv_ready():
                out += channel.recv(65536)
                progressed = True
            while channel.recv_stderr_ready():
                err += channel.recv_stderr(65536)
                progressed = True
            # The exit status may arrive before the last output: wait for EOF as well.
            # A channel closed without them was cut off with its connection.
            if channel.closed and not channel.eof_received:
                raise EOFError("the channel closed before the command's output ended")
            if channel.exit_status_ready() and channel.eof_received \
                    and not channel.recv_ready() and not channel.recv_stderr_ready():
                break
            if time.monotonic() > deadline:
                raise TransientError(f"{self._where()}: {_short(command)} did not finish "
                                     f"within {timeout:.0f} s")
            if not progressed:
                channel.status_event.wait(0.02)
        return Result(channel.recv_exit_status(), out.decode(errors="replace"),
                      err.decode(errors="replace"))

    def _connected(self):
        with self._lock:
            client = self._client
            if client is not None and client.get_transport() is not None \
                    and client.get_transport().is_active():
                return client
            if client is not None:
                client.close()
            self._client = self._open()
            return self._client

    def _open(self):
        p = self.profile
        client = paramiko.SSHClient()
        try:
            client.load_host_keys(p.known_hosts_file)
        except (OSError, paramiko.SSHException) as error:
            raise PermanentError(f"{self._where()}: cannot read known_hosts_file "
                                 f"{p.known_hosts_file}: {error}")
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(p.login_host, port=p.port, username=p.user, key_filename=p.key_file,
                           look_for_keys=False, allow_agent=False, timeout=CONNECT_TIMEOUT,
                           banner_timeout=CONNECT_TIMEOUT, auth_timeout=CONNECT_TIMEOUT,
                           transport_factory=_Transport)
        except paramiko.BadHostKeyException as error:
            client.close()
            raise PermanentError(f"{self._where()}: the host key does not match the pinned "
                                 f"key in {p.known_hosts_file} ({error.key.get_name()} "
                                 f"{error.key.fingerprint}); refusing to connect")
        except paramiko.AuthenticationException as error:
            client.close()
            raise PermanentError(f"{self._where()}: the login node refused key "
                                 f"{p.key_file} for user {p.user}: {error}")
        except paramiko.SSHException as error:
            client.close()
            if "not found in known_hosts" in str(error):
                raise PermanentError(f"{self._where()}: the host key is not pinned in "
                                     f"{p.known_hosts_file}; refusing to connect")
            raise TransientError(f"{self._where()}: SSH handshake failed: {error}")
        except (OSError, socket.timeout, EOFError) as error:
            client.close()
            raise TransientError(f"{self._where()}: cannot connect: {error}")
        # paramiko leaves Nagle's algorithm on: each command's small packets would wait for
        # the login node's delayed ACK (40 ms on Linux), ten times what the command costs.
        client.get_transport().sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.get_transport().set_keepalive(30)
        log.info("connected to %s", self._where())
        return client

    def _drop(self, client):
        with self._lock:
            if self._client is client:
                self._client = None
        client.close()

    def _where(self):
        p = self.profile
        return f"cluster {p.name} ({p.user}@{p.login_host}:{p.port})"


KEPT_OUTPUT = 64 * 1024


class RemoteStream:
    """A command running on the login node: ``write`` its input, ``close_input``, ``read``
    its output (a file-like ``read(size)``: fewer bytes than asked mean only that no more
    were there yet, b"" its end), then ``finish`` for its Result. The connection failing,
    or the other side moving nothing for STALL_SECONDS, is a TransientError."""

    def __init__(self, channel, what, drop_connection):
        self._channel = channel
        self._what = what
        self._drop_connection = drop_connection
        self._received = memoryview(b"")
        channel.settimeout(STALL_SECONDS)

    def start(self, command):
        self._call(self._channel.exec_command, command)

    def write(self, data):
        self._call(self._channel.sendall, data)

    def close_input(self):
        self._call(self._channel.shutdown_write)

    def has_output(self):
        """Whether the command has written to its output, or ended."""
        return self._channel.recv_ready() or self._channel.exit_status_ready()

    def read(self, size=-1):
        # What the channel holds is taken at once and handed out from here: paramiko moves
        # the rest of its buffer on every partial read, and tar reads 10 KiB at a time.
        if not self._received:
            self._received = memoryview(self._call(self._channel.recv, WINDOW_BYTES))
        size = len(self._received) if size is None or size < 0 else size
        data, self._received = self._received[:size], self._received[size:]
        return bytes(data)

    def finish(self):
        """The command's Result once it has ended. Its output left unread is read, and
        the first KEPT_OUTPUT bytes of it and of its errors are kept."""
        out, err = bytearray(), bytearray()
        while data := self.read():
            out += data[:KEPT_OUTPUT - len(out)]
        while data := self._call(self._channel.recv_stderr, WINDOW_BYTES):
            err += data[:KEPT_OUTPUT - len(err)]
        if not self._channel.status_event.wait(STALL_SECONDS):
            raise TransientError(f"{self._what}: no exit status {STALL_SECONDS:.0f} s "
                                 f"after its output ended")
        return Result(self._channel.recv_exit_status(), out.decode(errors="replace"),
                      err.decode(errors="replace"))

    def _call(self, action, *arguments):
        try:
            return action(*arguments)
        except TimeoutError:
            raise TransientError(f"{self._what}: nothing moved for {STALL_SECONDS:.0f} s")
        except (paramiko.SSHException, OSError, EOFError) as error:
            self._drop_connection()
            raise TransientError(f"{self._what}: SSH connection lost: {error}")


class _Transport(paramiko.Transport):
    """paramiko's Transport, AES-GCM first, and never waiting on itself during a key
    exchange.

    paramiko exchanges keys again after 2**29 bytes each way (and whenever sshd asks).
    Until the exchange is over, channel messages must wait (RFC 4253, section 7.1), and
    paramiko makes every sender wait for it, its own thread too: when a channel's CLOSE
    from the login node arrives after paramiko asked for new keys, its thread waits to
    answer it instead of reading the keys it waits for, and after 30 s drops the
    connection ("Key-exchange timed out waiting for key negotiation", paramiko#822).
    A stream ending near a multiple of 512 MiB was cut off so, with every command on the
    connection. Here what that thread would send meanwhile is held, and sent right after
    its own NEWKEYS, in order, before any other thread may send again.
    """

    def __init__(self, sock, **options):
        super().__init__(sock, **options)
        offered = self.get_security_options().ciphers
        self.get_security_options().ciphers = tuple(
            [c for c in _CIPHERS if c in offered] + [c for c in offered if c not in _CIPHERS])
        self._held_during_kex = []
        self._newkeys_sent = False

    def _send_user_message(self, data):
        if threading.current_thread() is self:
            with self.clear_to_send_lock:
                if not self.clear_to_send.is_set():
                    # Between its own NEWKEYS and the login node's, it may send again.
                    if self._newkeys_sent:
                        self._send_message(data)
                    else:
                        self._held_during_kex.append(data)
                    return
        super()._send_user_message(data)

    def _send_kex_init(self):
        self._newkeys_sent = False
        super()._send_kex_init()

    def _activate_outbound(self):
        super()._activate_outbound()
        # The other threads wait for the login node's NEWKEYS.
        self._newkeys_sent = True
        held, self._held_during_kex = self._held_during_kex, []
        for data in held:
            self._send_message(data)


def _close(channel):
    """Close ``channel``. On a connection that is gone (the login node's sshd stopped, say)
    paramiko may not know it yet and fail to send the CLOSE: there is nothing to tell the
    login node then, and the failure that ended the command is the one to raise."""
    try:
        channel.close()
    except (paramiko.SSHException, OSError, EOFError):
        pass


def _short(command, limit=80):
    return command if len(command) <= limit else command[:limit] + "..."
