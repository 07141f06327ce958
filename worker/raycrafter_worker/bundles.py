"""Many files from the cluster as one tar: a tar file on scratch for GridFTP (``pack``),
or a tar stream over the worker's SSH connection (``receive_stream``).

With a private data channel globus-url-copy spends more than 10 ms of CPU on every file,
whatever its size: it imports the data channel credential again for each one. In stream
mode each file also opens and authenticates a data connection of its own, and the server,
closing it, leaves its data port in TIME_WAIT for a minute; once every port of its range
waits, the server cannot listen and globus-url-copy turns the connection round, from the
cluster to the worker, which a firewall in between stops. So several files travel as one
bundle: ``pack`` makes it on the cluster with GNU tar in one SSH command, one transfer
streams it to the worker, and ``unpack`` writes each member, as it arrives, to the local
paths that asked for it.

The bundle is a means, never a new way to fail: when it cannot be made (scratch full,
over quota, a file missing, no GNU tar on the login node, a command that timed out)
``pack`` says so and the caller copies the files one by one as it would without bundles,
meeting the failure, if there is one, exactly as before. Bundles live in
SCRATCH/raycrafter/.bundles; each is removed once transferred, and one left behind by a
worker killed meanwhile is swept by the next ``pack`` after a day.

Over SSH the same tar is written to the command's output and read as it comes, with no
file on scratch. Either way each member is written to a partial name beside its local
path and renamed into place once complete, so a transfer cut off leaves no partial file
where a complete one is expected.
"""
import logging
import os
import posixpath
import secrets
import shlex
import shutil
import tarfile

from .command_failures import check
from .errors import PermanentError, TransientError
from .windowed_sftp import PARTIAL_SUFFIX

log = logging.getLogger(__name__)

STALE_AFTER_MINUTES = 24 * 60
# Members are stored as regular files with their content (symbolic and hard links
# followed), each name exactly as given: what GridFTP would have read at that path.
_TAR_OPTIONS = ("--no-recursion --dereference --hard-dereference --verbatim-files-from "
                "--no-unquote --null -T -")


def remote_dir(profile):
    return f"{profile.jobs_root}/.bundles"


def pack(transport, profile, pairs):
    """Make one tar file of the remote paths of ``pairs`` (remote path, local path) on the
    cluster and return its path, or None when it cannot be made (the reason is logged)."""
    paths = list(_destinations(pairs))
    folder = remote_dir(profile)
    bundle = f"{folder}/{secrets.token_hex(8)}.tar"
    command = (f"umask 077 && mkdir -p -- {shlex.quote(folder)} && "
               f"{{ find {shlex.quote(folder)} -maxdepth 1 -name '*.tar' "
               f"-mmin +{STALE_AFTER_MINUTES} -delete 2>/dev/null; true; }} && "
               f"tar -cf {shlex.quote(bundle)} -C / {_TAR_OPTIONS} || "
               f"{{ s=$?; rm -f -- {shlex.quote(bundle)}; exit $s; }}")
    names = "".join(path.lstrip("/") + "\0" for path in paths)
    try:
        result = transport.run(command, stdin=names)
    except TransientError as error:
        log.warning("no bundle of %d file(s) on %s, copying them one by one: %s",
                    len(paths), profile.name, error)
        return None
    if result.status != 0:
        log.warning("no bundle of %d file(s) on %s, copying them one by one: exit status "
                    "%d: %s", len(paths), profile.name, result.status,
                    result.stderr.strip()[:500])
        return None
    return bundle


def receive_stream(transport, pairs):
    """Bring the remote paths of ``pairs`` (remote path, local path) over the worker's SSH
    connection as one tar stream. The stream is read to its end even when unpacking it
    fails, so that tar's own failure (a file missing, a read error), which is the cause of
    a stream cut short, is the one raised."""
    paths = list(_destinations(pairs))
    names = "".join(path.lstrip("/") + "\0" for path in paths)
    with transport.stream(f"tar -cf - -C / {_TAR_OPTIONS}") as tar:
        tar.write(names.encode("utf-8", "surrogateescape"))
        tar.close_input()
        try:
            unpack(tar, pairs)
        finally:
            result = tar.finish()
            if result.status != 0:
                check(result, f"sending {len(paths)} file(s) as one tar stream")


def remove(transport, bundle):
    """Remove a transferred bundle; a failure is logged, not raised, so that it cannot
    hide the transfer's own outcome (the next ``pack`` sweeps what is left)."""
    try:
        result = transport.run(f"rm -f -- {shlex.quote(bundle)}")
    except (TransientError, PermanentError) as error:
        log.warning("could not remove %s: %s", bundle, error)
        return
    if result.status != 0:
        log.warning("could not remove %s: %s", bundle, result.stderr.strip())


def unpack(stream, pairs):
    """Read the bundle ``pack`` made of the same ``pairs`` from ``stream`` (as it arrives,
    never seeking) and write each member to its local paths."""
    wanted = _destinations(pairs)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as bundle:
            members = iter(bundle)
            for remote, destinations in wanted.items():
                _write_member(bundle, next(members, None), remote, destinations)
    except (tarfile.TarError, EOFError) as error:
        raise TransientError(f"the bundle of {len(wanted)} file(s) from the cluster "
                             f"arrived damaged: {error}")
    except OSError as error:
        raise TransientError(f"unpacking the bundle of {len(wanted)} file(s) from the "
                             f"cluster failed: {error}")


def _destinations(pairs):
    """{remote path: [local paths]}, each remote path once, in the order of ``pairs``: the
    order of the bundle's members."""
    wanted = {}
    for remote, local in pairs:
        wanted.setdefault(remote, []).append(local)
    return wanted


def _write_member(bundle, member, remote, destinations):
    if member is None or posixpath.normpath(member.name) != posixpath.normpath(
            remote.lstrip("/")):
        raise TransientError(f"the bundle from the cluster does not hold {remote} where "
                             f"expected (found {member.name if member else 'its end'})")
    if not member.isfile():
        raise PermanentError(f"{remote} on the cluster is not a regular file")
    for destination in destinations:
        # Folders are made as globus-url-copy's -cd makes them for a file copied alone.
        os.makedirs(os.path.dirname(destination) or ".", exist_ok=True)
    first, *others = destinations
    with bundle.extractfile(member) as source, open(first + PARTIAL_SUFFIX, "wb") as target:
        shutil.copyfileobj(source, target, 1 << 20)
    os.replace(first + PARTIAL_SUFFIX, first)
    for other in others:
        shutil.copyfile(first, other + PARTIAL_SUFFIX)
        os.replace(other + PARTIAL_SUFFIX, other)
