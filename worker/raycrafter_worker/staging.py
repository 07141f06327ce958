"""Moving files between the worker and the cluster's scratch directory, each batch the way
that costs least on that cluster.

Three ways, as far as the profile permits them (``transfer``, ``streams``):
- ``stream``: over the worker's own SSH connection as one stream: frames come down as one
  tar, a scene goes up as its archive, which the login node unpacks by the contract's scene
  rule (scene_receiver.py, shipped by login_tools.py);
- ``gridftp``: globus-url-copy over sshftp, separate data connections protected with
  ``-dcpriv``; several files down as one bundle (bundles.py);
- ``sftp``: file by file over the SSH connection, a window of requests in flight
  (windowed_sftp.py); a site that permits nothing else gets this.
Which one moves a batch is decided by what each is measured to cost on this cluster
(transfer_costs.py, transfer_probe.py), and the choice is logged with its reason. Either
way the caller verifies sizes and SHA-256 checksums afterwards (``cluster.Cluster``), or
the receiver does for a scene: a transfer tool's exit status alone is not proof that the
bytes arrived. Every way writes a file under a partial name and renames it into place
once complete.

GridFTP transfers stay in stream mode, where the worker connects to the server's data
port: in extended block mode (``-fast``, needed for ``-p``) the sender connects, which for
a download is the cluster reaching the worker, and a firewall between them stops that
(docs/performance.md, "Stage-out"). sshftp authentication comes from the ssh
configuration: globus-url-copy starts ``/usr/bin/ssh ALIAS`` and ssh reads the ``Host
ALIAS`` block (key, port, user, pinned known_hosts) from /etc/ssh/ssh_config.d/ (written
by Salt) or ~/.ssh/config. Data channel protection with sshftp needs a credential:
``-data-cred auto`` makes a throw-away one and sends it over the (SSH-protected) control
channel (DCSC). Both ends need a trusted-certificates directory to exist for that, so the
worker points X509_CERT_DIR at an empty private directory locally and at
SCRATCH/raycrafter/.x509 on the cluster (through GLOBUS_REMOTE_SSHFTP, the remote command
the sshftp client runs).
"""
import errno
import hashlib
import json
import logging
import os
import posixpath
import re
import secrets
import shlex
import subprocess
import tempfile
import threading
import time
import urllib.parse

import paramiko

from . import bundles, login_tools, transfer_probe
from .command_failures import DISK_FULL, DISK_FULL_ERRNOS, check
from .command_lines import argument_batches
from .errors import DiskFull, PermanentError, TransientError
from .scene_receiver import ABSENT, DAMAGED, REFUSED

log = logging.getLogger(__name__)

GLOBUS_URL_COPY = "globus-url-copy"
STALL_TIMEOUT_SECONDS = 120
# A cluster's costs are measured again after this long: the load on both ends changes;
# sooner when a way could not be measured (a full scratch, GridFTP down).
PROBE_MAX_AGE_SECONDS = 6 * 3600
PROBE_AGAIN_SECONDS = 600
_SCENE_CHUNK = 1024 * 1024
_REPLY = re.compile(r"^\s*(?:\d{3} )?([45]\d\d)[- ](.*)$")
# Puts each uploaded file ($1) in its place ($2), pair after pair.
_RENAME_PAIRS = 'while [ $# -gt 1 ]; do mv -f -- "$1" "$2" || exit; shift 2; done'
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


class Stager:
    """Moves each batch the cheapest way the profile permits (the ``ways``)."""

    def __init__(self, profile, transport, workdir):
        self.profile = profile
        self.transport = transport
        self.workdir = workdir
        self.ways = {"sftp": SftpStager(transport, profile)}
        if profile.transfer == "gridftp":
            self.ways["gridftp"] = GridFtpStager(profile, transport, workdir,
                                                 bundle=profile.streams)
        if profile.streams:
            self.ways["stream"] = StreamStager(transport, profile)
        self._costs = None
        self._probing = threading.Lock()

    @property
    def receives_scenes(self):
        """Whether a scene goes up as its archive, unpacked on the login node."""
        return "stream" in self.ways

    def upload(self, pairs, size):
        """Copy local files to the cluster: ``pairs`` of (local path, remote path) holding
        ``size`` bytes in all, file by file (a scene goes as its archive: receive_scene)."""
        self._move("up", ("gridftp", "sftp"), pairs, size, "upload")

    def download(self, pairs, size):
        """Copy cluster files here: ``pairs`` of (remote path, local path) holding ``size``
        bytes in all."""
        self._move("down", ("stream", "gridftp", "sftp"), pairs, size, "download")

    def scene_in_place(self, kind, checksum, into):
        """The receiver's answer when the login node holds the scene already, as it was
        received (StreamStager.scene_in_place), else None."""
        return self.ways["stream"].scene_in_place(kind, checksum, into)

    def receive_scene(self, archive, kind, checksum, into, limits, scene_file):
        """Unpack the scene ``archive`` (of ``kind``, its (size, SHA-256) ``checksum``) on
        the login node into ``into`` by the scene rule; returns the receiver's answer
        ({"main_file", ...}). Its bytes travel over the SSH connection, or over GridFTP as
        one file where that is cheaper."""
        size = checksum[0]
        # Over GridFTP the file lands on scratch and the receiver then runs as a command:
        # the start of a stream is paid on top.
        way = self._choose("up", {way: (1, size) for way in ("stream", "gridftp")
                                  if way in self.ways},
                           f"the scene of {into}", added={"gridftp": ("stream", "up", 0, 0)})
        started = time.monotonic()
        stream = self.ways["stream"]
        if way == "gridftp":
            landed = f"{os.path.dirname(into)}/.scene-{secrets.token_hex(6)}"
            self.ways["gridftp"].upload([(archive, landed)])
            try:
                answer = stream.receive_scene(archive, kind, checksum, into, limits,
                                              scene_file, landed)
            finally:
                stream.remove(landed)
        else:
            answer = stream.receive_scene(archive, kind, checksum, into, limits, scene_file)
        self._learn(way, "up", 1, size, time.monotonic() - started)
        return answer

    def _move(self, direction, preference, pairs, size, verb):
        if not pairs:
            return
        ways = [way for way in preference if way in self.ways]
        way = self._choose(direction, {way: (len(pairs), size) for way in ways},
                           f"{verb} of {len(pairs)} file(s)")
        started = time.monotonic()
        if way == "gridftp":
            # The GridFTP server drops the bytes of any non-ASCII character from a path
            # (``ü dir/ünï.inc`` arrives as `` dir/n.inc``): those files go over SFTP.
            plain, others = [], []
            for pair in pairs:
                (plain if pair[0].isascii() and pair[1].isascii() else others).append(pair)
            getattr(self.ways["gridftp"], verb)(plain)
            if others:
                getattr(self.ways["sftp"], verb)(others)
        else:
            getattr(self.ways[way], verb)(pairs)
        self._learn(way, direction, len(pairs), size, time.monotonic() - started)

    def _choose(self, direction, candidates, what, added=None):
        if len(candidates) == 1:
            return next(iter(candidates))
        choice = self.costs().choose(direction, candidates, f"{what} on {self.profile.name}",
                                     added)
        log.info("%s", choice.reason)
        return choice.way

    def costs(self):
        """This cluster's CostProfile, measured at first and again when it is older than
        PROBE_MAX_AGE_SECONDS (PROBE_AGAIN_SECONDS if a way was left out); one probe at a
        time."""
        with self._probing:
            age = time.time() - self._costs.measured_at if self._costs else None
            if age is None or age > PROBE_MAX_AGE_SECONDS or (
                    len(self._costs.ways) < 2 * len(self.ways) and age > PROBE_AGAIN_SECONDS):
                self._costs = transfer_probe.measure(self)
                log.info("transfer costs of %s: %s", self.profile.name, self._costs.table())
            return self._costs

    def set_costs(self, costs):
        """Use ``costs`` instead of measuring (a CostProfile, e.g. one measured before)."""
        with self._probing:
            self._costs = costs

    def _learn(self, way, direction, files, size, seconds):
        if self._costs is not None:
            self._costs.learn(way, direction, files, size, seconds)


class GridFtpStager:
    """globus-url-copy, file by file or, for several files from the cluster, one bundle
    made by tar on the login node (when ``bundle``: the site lets the worker run tar
    there)."""

    def __init__(self, profile, transport, workdir, bundle=True):
        self.profile = profile
        self.trust_dir = remote_trust_dir(profile)
        self.transport = transport
        self._cert_dir = os.path.join(workdir, "x509")
        os.makedirs(self._cert_dir, mode=0o700, exist_ok=True)
        self._workdir = workdir
        self._bundle = bundle

    def upload(self, pairs):
        """Copy (local path, remote path) pairs to the cluster, each through a partial
        name renamed into place in one command once all have arrived."""
        if not pairs:
            return
        landing = [(local, remote, partial_path(remote)) for local, remote in pairs]
        self._copy([(_file_url(local), self._remote_url(partial))
                    for local, _, partial in landing])
        for batch in argument_batches([(partial, remote) for _, remote, partial in landing]):
            check(self.transport.run(f"sh -c {shlex.quote(_RENAME_PAIRS)} sh "
                                      + shlex.join(batch)),
                  f"putting uploaded files in place on cluster {self.profile.name}")

    def download(self, pairs):
        """Copy (remote path, local path) pairs here."""
        if not pairs:
            return
        bundle = bundles.pack(self.transport, self.profile, pairs) \
            if len(pairs) > 1 and self._bundle else None
        if bundle:
            try:
                self._receive(bundle, len(pairs), lambda stream: bundles.unpack(stream, pairs))
            finally:
                bundles.remove(self.transport, bundle)
            return
        landing = [(remote, local, local + bundles.PARTIAL_SUFFIX) for remote, local in pairs]
        self._copy([(self._remote_url(remote), _file_url(partial))
                    for remote, _, partial in landing])
        for _, local, partial in landing:
            os.replace(partial, local)

    def _remote_url(self, path):
        return "sshftp://" + self.profile.gridftp_host + urllib.parse.quote(path, safe="/")

    def _copy(self, urls):
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
                   GLOBUS_REMOTE_SSHFTP=(f"X509_CERT_DIR={self.trust_dir} "
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
    """SFTP over the worker's SSH connection, file by file, each with a window of requests
    in flight (windowed_sftp.py); a file cut off is resumed by the next transfer of it."""

    def __init__(self, transport, profile):
        self.transport = transport
        self.profile = profile

    def upload(self, pairs):
        if not pairs:
            return
        with self._session() as sftp:
            for local, remote in pairs:
                self._guarded(local, lambda: sftp.upload(local, remote, partial_path(remote)),
                              lambda: self._room_left(local, remote))

    def download(self, pairs):
        if not pairs:
            return
        with self._session() as sftp:
            for remote, local in pairs:
                self._guarded(remote, lambda: sftp.download(remote, local))

    def _session(self):
        return self.transport.sftp()

    @staticmethod
    def _guarded(what, step, room_left=None):
        try:
            return step()
        except (EOFError, paramiko.SSHException, ConnectionError, TimeoutError) as error:
            raise TransientError(f"SFTP transfer of {what} failed: {error}")
        except OSError as error:
            if error.errno in _PERMANENT_ERRNOS:
                raise PermanentError(f"SFTP transfer of {what} failed: "
                                     f"{error.strerror or error}")
            message = f"SFTP transfer of {what} failed: {error}"
            if error.errno in DISK_FULL_ERRNOS:
                raise DiskFull(message)
            room = room_left() if room_left and error.errno is None else None
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


class StreamStager:
    """Over the worker's SSH connection as one stream: frames as one tar made by GNU tar on
    the login node, a scene as its archive to the receiver there."""

    def __init__(self, transport, profile):
        self.transport = transport
        self.profile = profile

    def download(self, pairs):
        if pairs:
            bundles.receive_stream(self.transport, pairs)

    def scene_in_place(self, kind, checksum, into):
        """The receiver's answer when ``into`` holds the scene of the archive (of ``kind``,
        with ``checksum``), every file as it was unpacked; None when not (or no receiver is
        installed yet)."""
        result = self.transport.run(login_tools.receiver_command(
            self.profile, _receiver_arguments(kind, checksum, into) + ["--check"]))
        if result.status in (login_tools.NOT_INSTALLED, ABSENT):
            return None
        return _receiver_answer(result, into)

    def receive_scene(self, archive, kind, checksum, into, limits, scene_file, landed=None):
        """Run the receiver on the login node for ``archive``: sent over its standard
        input, or, with ``landed``, read from that file on scratch. Installs the receiver
        first where it is missing."""
        arguments = _receiver_arguments(kind, checksum, into) + [
            "--max-members", str(limits.max_members), "--max-bytes", str(limits.max_bytes)]
        arguments += ["--scene-file", scene_file] if scene_file else []
        arguments += ["--from", landed] if landed else []
        command = login_tools.receiver_command(self.profile, arguments)
        result = self._receive(command, None if landed else archive)
        if result.status == login_tools.NOT_INSTALLED:
            log.info("installing the scene receiver on %s", self.profile.name)
            login_tools.install_receiver(self.transport, self.profile)
            result = self._receive(command, None if landed else archive)
        return _receiver_answer(result, into)

    def remove(self, path):
        try:
            self.transport.run(f"rm -f -- {shlex.quote(path)}")
        except TransientError as error:
            log.warning("could not remove %s: %s", path, error)

    def _receive(self, command, archive):
        if archive is None:
            return self.transport.run(command)
        with self.transport.stream(command) as receiver, open(archive, "rb") as source:
            # A receiver that has answered (a scene refused half-way) reads no more.
            while not receiver.has_output() and (chunk := source.read(_SCENE_CHUNK)):
                receiver.write(chunk)
            receiver.close_input()
            return receiver.finish()


def _receiver_arguments(kind, checksum, into):
    size, sha256 = checksum
    return ["--kind", kind, "--size", str(size), "--sha256", sha256, "--into", into]


def _receiver_answer(result, into):
    answer = {}
    try:
        answer = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pass
    if result.status == 0 and "main_file" in answer:
        return answer
    if result.status == REFUSED and "refused" in answer:
        raise PermanentError(f"the scene cannot be unpacked: {answer['refused']}")
    if result.status == DAMAGED and "damaged" in answer:
        raise TransientError(f"the scene arrived damaged in {into}: {answer['damaged']}")
    check(result, f"unpacking the scene into {into}")
    raise TransientError(f"the scene receiver gave no answer for {into}: "
                         f"{result.stdout.strip()[:500]}")


def for_profile(profile, transport, workdir):
    return Stager(profile, transport, workdir)


def partial_path(remote):
    """Where an upload to the cluster path ``remote`` is written until it is complete:
    beside it (so on the same file system, for the rename), under a name made from its
    own, which the next transfer to the same path finds and no scene names by chance."""
    folder, name = posixpath.split(remote)
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return posixpath.join(folder, f".rc-partial-{digest}")


def _file_url(path):
    return "file://" + urllib.parse.quote(os.path.abspath(path), safe="/")
