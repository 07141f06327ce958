"""Moving files between the worker and the cluster's scratch directory.

GridFTP over sshftp is the fast path (globus-url-copy runs ``ssh`` to start the server
and opens separate data connections, protected with ``-dcpriv``); SFTP over the worker's
own SSH connection is the fallback for sites without GridFTP. Either way the caller
verifies sizes and SHA-256 checksums afterwards (``cluster.Cluster.checksums``): a
transfer tool's exit status alone is not proof that the bytes arrived.

Several files from the cluster travel as one bundle (bundles.py), since GridFTP's cost per
file dwarfs that of a frame's bytes. Transfers stay in stream mode, where the worker
connects to the server's data port: in extended block mode (``-fast``, needed for
``-p``) the sender connects, which for a download is the cluster reaching the worker, and
a firewall between them stops that (docs/performance.md, "Stage-out").

sshftp authentication comes from the ssh configuration: globus-url-copy starts
``/usr/bin/ssh ALIAS`` and ssh reads the ``Host ALIAS`` block (key, port, user, pinned
known_hosts) from /etc/ssh/ssh_config.d/ (written by Salt) or ~/.ssh/config.
Data channel protection with sshftp needs a credential: ``-data-cred auto`` makes a
throw-away one and sends it over the (SSH-protected) control channel (DCSC). Both ends
need a trusted-certificates directory to exist for that, so the worker points
X509_CERT_DIR at an empty private directory locally and at SCRATCH/raycrafter/.x509 on
the cluster (through GLOBUS_REMOTE_SSHFTP, the remote command the sshftp client runs).
"""
import logging
import errno
import os
import posixpath
import re
import shlex
import subprocess
import tempfile
import urllib.parse

import paramiko

from . import bundles
from .command_failures import DISK_FULL, DISK_FULL_ERRNOS
from .errors import DiskFull, PermanentError, TransientError

log = logging.getLogger(__name__)

GLOBUS_URL_COPY = "globus-url-copy"
STALL_TIMEOUT_SECONDS = 120
_REPLY = re.compile(r"^\s*(?:\d{3} )?([45]\d\d)[- ](.*)$")
# A full disk or quota is transient (command_failures.py says why); so is anything else
# that is not about the file itself.
_PERMANENT_ERRNOS = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR}
_PERMANENT_SSH = ("Host key verification failed", "Permission denied (",
                  "No such file or directory: ", "Could not resolve hostname")
# A data connection that could not be made or was cut: the server reports it with a 5xx
# reply ("Command failed. : callback failed."), but nothing about the files is wrong, and
# the next try opens new connections.
_DATA_CONNECTION_FAILED = ("System error in connect:", "Unable to connect to",
                           "Connection reset by peer", "Connection timed out",
                           "No route to host")


def remote_trust_dir(profile):
    return f"{profile.jobs_root}/.x509"


class GridFtpStager:
    """GridFTP for a transfer of at least the profile's ``gridftp_min_bytes``, for every
    file whose cluster path is ASCII. A smaller transfer goes over SFTP on the worker's
    open SSH connection: starting globus-url-copy, its ssh and a GridFTP server on the
    login node costs a few tenths of a second, which a small scene or a few frames never
    win back. The GridFTP server drops the bytes of any non-ASCII character from a path
    (``ü dir/ünï.inc`` arrives as `` dir/n.inc``), so those files go over SFTP too."""

    name = "gridftp"

    def __init__(self, profile, transport, workdir, fallback):
        self.profile = profile
        self._transport = transport
        self._cert_dir = os.path.join(workdir, "x509")
        os.makedirs(self._cert_dir, mode=0o700, exist_ok=True)
        self._workdir = workdir
        self._fallback = fallback

    def upload(self, pairs, size):
        """Copy local files to the cluster: ``pairs`` of (local path, remote path) holding
        ``size`` bytes in all."""
        gridftp, other = self._split(pairs, size, remote=1)
        self._copy([(_file_url(local), self._remote_url(remote)) for local, remote in gridftp])
        self._fallback.upload(other, size)

    def download(self, pairs, size):
        """Copy cluster files here: ``pairs`` of (remote path, local path) holding ``size``
        bytes in all."""
        gridftp, other = self._split(pairs, size, remote=0)
        bundle = bundles.pack(self._transport, self.profile, gridftp) \
            if len(gridftp) > 1 else None
        if bundle:
            try:
                self._receive(bundle, len(gridftp),
                              lambda stream: bundles.unpack(stream, gridftp))
            finally:
                bundles.remove(self._transport, bundle)
        else:
            self._copy([(self._remote_url(remote), _file_url(local))
                        for remote, local in gridftp])
        self._fallback.download(other, size)

    def _split(self, pairs, size, remote):
        """(pairs for GridFTP, pairs for SFTP); the cluster path is at index ``remote``."""
        if size < self.profile.gridftp_min_bytes:
            return [], pairs
        return _split_by_ascii(pairs, remote)

    def _remote_url(self, path):
        return "sshftp://" + self.profile.gridftp_host + urllib.parse.quote(path, safe="/")

    def _copy(self, urls):
        if not urls:
            return
        log.debug("globus-url-copy of %d file(s), first %s -> %s", len(urls), *urls[0])
        with tempfile.NamedTemporaryFile("w", dir=self._workdir, suffix=".list") as listing:
            listing.writelines(f"{src} {dst}\n" for src, dst in urls)
            listing.flush()
            with self._start(["-cd", "-f", listing.name], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE) as process:
                out, err = process.communicate()
        if process.returncode != 0:
            raise classify_gridftp_failure(err.decode(errors="replace")
                                           + out.decode(errors="replace"), len(urls))

    def _receive(self, remote, count, consume):
        """Stream the cluster file ``remote`` (holding ``count`` files) into ``consume``,
        which reads it to its end. The stream is read to the end even when ``consume``
        fails, so that globus-url-copy finishes and its own failure, which is the cause of
        a stream cut short, is the one raised."""
        log.debug("globus-url-copy of %s (%d file(s)) to the worker", remote, count)
        with tempfile.TemporaryFile(dir=self._workdir) as messages:
            with self._start([self._remote_url(remote), "-"], stdout=subprocess.PIPE,
                             stderr=messages) as process:
                try:
                    consume(process.stdout)
                finally:
                    while process.stdout.read(1 << 20):
                        pass
                    process.wait()
                    if process.returncode != 0:
                        messages.seek(0)
                        raise classify_gridftp_failure(
                            messages.read().decode(errors="replace"), count)

    def _start(self, arguments, **streams):
        command = [GLOBUS_URL_COPY, "-dcpriv", "-data-cred", "auto",
                   "-stall-timeout", str(STALL_TIMEOUT_SECONDS), *arguments]
        env = dict(os.environ, X509_CERT_DIR=self._cert_dir,
                   GLOBUS_REMOTE_SSHFTP=(f"X509_CERT_DIR={remote_trust_dir(self.profile)} "
                                         f"{self.profile.gridftp_server}"))
        try:
            return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, **streams)
        except FileNotFoundError:
            raise PermanentError(f"{GLOBUS_URL_COPY} is not installed on the worker "
                                 f"(Debian package globus-gass-copy-progs)")


def classify_gridftp_failure(text, count):
    """A server reply (5xx) or a refused ssh login is permanent, unless the reply is about
    a data connection or a full disk or quota (command_failures.DISK_FULL); the rest is
    transient."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    replies = [m for m in (_REPLY.match(line) for line in lines) if m]
    detail = "; ".join(m.group(2).strip() for m in replies if m.group(2).strip()) \
        or " ".join(lines) or "no output"
    message = f"GridFTP transfer of {count} file(s) failed: {detail}"
    if any(marker in text for marker in _PERMANENT_SSH):
        return PermanentError(f"GridFTP transfer failed: ssh refused the login: "
                              f"{' '.join(lines)}")
    if DISK_FULL.search(text):
        return DiskFull(message)
    if replies and replies[0].group(1).startswith("5") \
            and not any(marker in text for marker in _DATA_CONNECTION_FAILED):
        return PermanentError(message)
    return TransientError(message)


class SftpStager:
    """SFTP over the worker's SSH connection, whatever the size (``size`` is the
    stagers' common interface: GridFtpStager chooses its way by it)."""

    name = "sftp"

    def __init__(self, transport):
        self.transport = transport

    def upload(self, pairs, size):
        self._each(pairs, lambda sftp, local, remote: sftp.put(local, remote),
                   self._room_left)

    def download(self, pairs, size):
        self._each(pairs, lambda sftp, remote, local: sftp.get(remote, local))

    def _each(self, pairs, step, room_left=None):
        if not pairs:
            return
        with self.transport.sftp() as sftp:
            for a, b in pairs:
                try:
                    step(sftp, a, b)
                except (EOFError, paramiko.SSHException, ConnectionError, TimeoutError) as error:
                    raise TransientError(f"SFTP transfer of {a} failed: {error}")
                except OSError as error:
                    if error.errno in _PERMANENT_ERRNOS:
                        raise PermanentError(f"SFTP transfer of {a} failed: "
                                             f"{error.strerror or error}")
                    message = f"SFTP transfer of {a} failed: {error}"
                    if error.errno in DISK_FULL_ERRNOS:
                        raise DiskFull(message)
                    room = room_left(a, b) if room_left and error.errno is None else None
                    if room is not None:
                        raise DiskFull(f"{message}; {room}")
                    raise TransientError(message)

    def _room_left(self, local, remote):
        """Why ``local`` does not fit at ``remote`` on the cluster, or None. OpenSSH's
        sftp-server reports a full disk as a plain "Failure", so the file system is asked
        (a quota it cannot see)."""
        result = self.transport.run(shlex.join(["df", "-P", "-B1", "--",
                                                posixpath.dirname(remote)]))
        fields = result.stdout.splitlines()[-1].split() if result.status == 0 and \
            result.stdout.strip() else []
        if len(fields) < 4 or not fields[3].isdigit():
            return None
        free, needed = int(fields[3]), os.path.getsize(local)
        if free >= needed:
            return None
        return f"its file system on the cluster has {free} bytes free, {needed} needed"


def for_profile(profile, transport, workdir):
    if profile.transfer == "gridftp":
        return GridFtpStager(profile, transport, workdir, SftpStager(transport))
    return SftpStager(transport)


def _split_by_ascii(pairs, remote):
    """(pairs whose cluster path, at index ``remote``, is ASCII; the others)."""
    ascii_pairs = [pair for pair in pairs if pair[remote].isascii()]
    return ascii_pairs, [pair for pair in pairs if not pair[remote].isascii()]


def _file_url(path):
    return "file://" + urllib.parse.quote(os.path.abspath(path), safe="/")
