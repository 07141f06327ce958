"""Measuring what each way of moving files costs on one cluster (transfer_costs.py).

Each way the profile permits moves a few small files and one file of PROBE_BYTES in each
direction, through the same code as a real transfer, in a folder of its own on scratch
(removed afterwards): one file gives the start, the difference to many small ones the
cost per file, the difference to the large one the cost per byte. On a near cluster the
whole probe takes a second or two; it runs at a cluster's first transfer choice and then
every few hours (staging.PROBE_MAX_AGE_SECONDS). A way whose probe fails is left out, with
the reason in the log, and the others are used.
"""
import functools
import io
import logging
import os
import secrets
import shlex
import tarfile
import tempfile
import time

from raycrafter_contract.scenes import SceneLimits

from .checksums import file_checksum
from .errors import WorkerError
from .transfer_costs import CostProfile, WayCost

log = logging.getLogger(__name__)

PROBE_BYTES = 32 * 1024 * 1024
SMALL_FILES = 16
_PROBE_LIMITS = SceneLimits(max_members=SMALL_FILES + 2, max_bytes=2 * PROBE_BYTES)


def measure(stager):
    """A CostProfile of ``stager``'s ways (staging.Stager) on its cluster; an empty one
    when nothing could be measured (a full disk, the login node unreachable): the reason
    is logged, and the transfer that asked goes on without."""
    profile = stager.profile
    remote = f"{profile.jobs_root}/.probe-{secrets.token_hex(6)}"
    ways = {}
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="probe-", dir=stager.workdir) as local:
            files = _local_files(local)
            stager.transport.run(f"umask 077 && mkdir -p -- {shlex.quote(remote)}")
            try:
                for way, probe in (("sftp", _sftp), ("stream", _stream),
                                   ("gridftp", _gridftp)):
                    if way in stager.ways:
                        ways.update(_measured(way, probe, stager, files, local, remote))
            finally:
                stager.transport.run(f"rm -rf -- {shlex.quote(remote)}")
    except (WorkerError, OSError) as error:
        log.warning("could not measure the transfers of %s: %s", profile.name, error)
    log.info("probed the transfers of %s in %.1f s", profile.name, time.monotonic() - started)
    return CostProfile(ways, "probed")


def _measured(way, probe, stager, files, local, remote):
    """{(way, direction): WayCost}, or {} with the reason logged."""
    try:
        return {(way, direction): cost for direction, cost in
                probe(stager, files, local, remote).items()}
    except (WorkerError, OSError) as error:
        log.warning("transfers over %s to %s left out: its probe failed: %s", way,
                    stager.profile.name, error)
        return {}


def _local_files(folder):
    """{"one": a one-byte file, "small": SMALL_FILES of them, "large": PROBE_BYTES}."""
    small = []
    for number in range(SMALL_FILES):
        path = os.path.join(folder, f"small-{number}")
        with open(path, "wb") as f:
            f.write(b"x")
        small.append(path)
    large = os.path.join(folder, "large")
    with open(large, "wb") as f:
        f.write(os.urandom(PROBE_BYTES))
    return {"one": small[:1], "small": small, "large": [large]}


def _cost(one, many, large):
    """WayCost from the seconds of one small file, of SMALL_FILES of them, and of one file
    of PROBE_BYTES. On a busy host a start can take longer than the large file did; the
    bytes are then taken to cost at least half the large file's time."""
    per_file = max(many - one, 0.0) / (SMALL_FILES - 1)
    return WayCost(start=max(one - per_file, 0.0), per_file=per_file,
                   per_byte=max(large - one, large / 2) / PROBE_BYTES)


def _timed(action, *arguments):
    started = time.monotonic()
    action(*arguments)
    return time.monotonic() - started


def _both_ways(way, files, local, remote):
    """{"up": WayCost, "down": WayCost} of a way with ``upload`` and ``download`` of
    (source, destination) pairs, in the folder ``remote`` (removed afterwards)."""
    seconds = {"up": {}, "down": {}}
    for size, paths in files.items():
        sent = [(path, f"{remote}/{size}-{os.path.basename(path)}") for path in paths]
        back = [(there, os.path.join(local, f"back-{os.path.basename(there)}"))
                for _, there in sent]
        # A start is the least of two: the load on a shared host only ever adds to it.
        seconds["up"][size] = min(_timed(way.upload, sent) for _ in range(_tries(size)))
        seconds["down"][size] = min(_timed(way.download, back) for _ in range(_tries(size)))
    way.transport.run(f"rm -rf -- {shlex.quote(remote)}")
    return {direction: _cost(t["one"], t["small"], t["large"]) for direction, t in
            seconds.items()}


def _tries(size):
    return 2 if size == "one" else 1


def _sftp(stager, files, local, remote):
    stager.transport.run(f"mkdir -p -- {shlex.quote(remote + '/sftp')}")
    return _both_ways(stager.ways["sftp"], files, local, remote + "/sftp")


def _gridftp(stager, files, local, remote):
    # The data channel's credential needs the trust folder on the cluster.
    stager.transport.run(f"mkdir -p -- {shlex.quote(remote + '/gridftp')} "
                         f"{shlex.quote(stager.ways['gridftp'].trust_dir)}")
    return _both_ways(stager.ways["gridftp"], files, local, remote + "/gridftp")


def _stream(stager, files, local, remote):
    """Down: tar streams of the files the SFTP probe left (or put) on scratch. Up: the
    scene receiver unpacking tars of the same files, which installs it if need be."""
    stream = stager.ways["stream"]
    there = f"{remote}/stream"
    stager.transport.run(f"mkdir -p -- {shlex.quote(there)}")
    stager.ways["sftp"].upload([(path, f"{there}/{os.path.basename(path)}")
                                for paths in files.values() for path in paths])
    up, down = {}, {}
    for size, paths in files.items():
        archive = os.path.join(local, f"{size}.tar")
        with tarfile.open(archive, "w", format=tarfile.GNU_FORMAT) as tar:
            for path in paths:
                tar.add(path, arcname=os.path.basename(path) + ".inc")
            tar.addfile(tarfile.TarInfo("scene.pov"), io.BytesIO())
        receive = functools.partial(stream.receive_scene, archive, "tar",
                                    file_checksum(archive), f"{there}/input-{size}",
                                    _PROBE_LIMITS, None)
        if not up:
            receive()  # the receiver installed and cached before anything is timed
        up[size] = min(_timed(receive) for _ in range(_tries(size)))
        stager.transport.run(f"rm -rf -- {shlex.quote(f'{there}/input-{size}')}")
        down[size] = min(_timed(stream.download, [
            (f"{there}/{os.path.basename(path)}", os.path.join(local, f"tar-{size}-{n}"))
            for n, path in enumerate(paths)]) for _ in range(_tries(size)))
    stager.transport.run(f"rm -rf -- {shlex.quote(there)}")
    return {"up": _cost(up["one"], up["small"], up["large"]),
            "down": _cost(down["one"], down["small"], down["large"])}

