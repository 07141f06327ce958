"""One SSH connection per cluster (paramiko), reused across tasks and reopened on failure.

Host keys are pinned: only the profile's known_hosts file is loaded and unknown or
changed keys are refused (RejectPolicy), never learnt. Every command has a deadline, so a
hung login node costs a timeout, not a stuck worker. The threads sharing the connection
open at most MAX_SESSIONS channels at once, and a session the login node refuses is waited
for, never a reason to drop a connection other commands are using. Failures are converted
to the worker's two error classes here, in one place.
"""
import contextlib
import dataclasses
import logging
import socket
import threading
import time

import paramiko

from .errors import PermanentError, TransientError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 15.0
# sshd allows 10 sessions on one connection (OpenSSH's MaxSessions default) and counts a
# closed one until its process is reaped, a moment later: the worker's threads open fewer
# at once, and a refusal all the same is waited out on the same connection.
MAX_SESSIONS = 6


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
                channel.close()

    @contextlib.contextmanager
    def sftp(self):
        """An SFTP session over the shared connection, for the ``with`` block."""
        deadline = time.monotonic() + self.profile.command_timeout_seconds
        with self._session_slot(deadline, "an SFTP session"):
            client, channel = self._open_session(deadline)
            try:
                channel.invoke_subsystem("sftp")
                sftp = paramiko.SFTPClient(channel)
            except (paramiko.SSHException, OSError, EOFError) as error:
                channel.close()
                self._drop(client)
                raise TransientError(f"{self._where()}: cannot open an SFTP session: {error}")
            try:
                yield sftp
            finally:
                sftp.close()

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

    def _open_session(self, deadline):
        """(client, a new session channel on it). A quick refusal on a live connection
        means the login node has as many sessions open as it allows: that is waited out,
        never a reason to drop the connection other commands are using."""
        delay = 0.02
        while True:
            client = self._connected()
            transport = client.get_transport()
            asked = time.monotonic()
            try:
                return client, transport.open_session(timeout=CONNECT_TIMEOUT)
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
                           banner_timeout=CONNECT_TIMEOUT, auth_timeout=CONNECT_TIMEOUT)
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


def _short(command, limit=80):
    return command if len(command) <= limit else command[:limit] + "..."
