"""Every way the worker moves files, against OpenSSH and against the SFTP it used before, at
several round-trip times (not a test; prints figures).

    /opt/raycrafter/test/bin/python bench/transfers.py [--runs 5] [--delayed-runs 1]
        [--delays 0 20 100] [--cases bulk frames scene] [--bulk-mib 1024]

Three cases, as the worker meets them:
- "bulk", down: one file of --bulk-mib MiB (1 GiB) from scratch;
- "frames", down: 500 files of 200 KiB, a job's frames;
- "scene", up: a scene of 2,000 files (1,999 includes of 4 KiB in 20 folders and its .pov),
  from its .tar.gz, as a stage-in gets it from the API.

Ways, each through the worker's own code where it is the worker's: "SFTP before", paramiko's
own ``get``/``put`` file by file (the worker before this change; a scene unpacked here
first, its folders made with one command); "SFTP" (windowed_sftp.py, file by file, likewise
unpacked here for a scene); "stream" (frames as one tar, a scene's archive to the receiver
on the login node, which unpacks it by the scene rule); "GridFTP" (globus-url-copy, frames
as one bundle); "chosen", the stager's own choice by the costs it measured (the way is
printed); and the baselines, OpenSSH's ``scp`` for downloads, ``tar c | ssh tar x`` of the
unpacked tree for the scene, and ``cp`` (this host holds the scratch: the ceiling of a copy
on this disk).

Round trips: at 0 ms everything talks to the cluster role's sshd on loopback; at 20 and
100 ms through a relay on loopback that holds every byte for half that in each direction
(tests/support/delay_relay.py, in a process of its own; this kernel has no sch_netem for
``tc netem``). GridFTP's
data channel is a connection of its own, which the relay cannot carry, and ``cp`` has no
link: both run at 0 ms only. File-by-file SFTP (scp's too) pays round trips per file, so at a
delay those ways move the first --sample / 5 and --sample files of a case of many, and the
line through the two times (a start and a cost per file) gives the whole case's (marked
"~").

Every copy is checked against the SHA-256 of its source. Runs against the local `cluster`
role as root (like tests/worker); what it makes is removed at the end.
"""
import argparse
import contextlib
import io
import logging
import os
import pathlib
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

import paramiko

from raycrafter_contract import scenes
from raycrafter_contract.naming import frame_file_name
from raycrafter_contract.scenes import SceneLimits
from raycrafter_worker import config as worker_config
from raycrafter_worker.checksums import file_checksum
from raycrafter_worker.cluster import Cluster
from raycrafter_worker.command_lines import argument_batches
from support.delay_relay import netem_available

from bench_cluster import bench_cluster

KIB = 1024
MIB = 1024 * KIB
SCENE_FILES = 2000
SCENE_LIMITS = SceneLimits(max_members=2 * SCENE_FILES, max_bytes=1 << 30)
DOWN = ("scp", "SFTP before", "SFTP", "stream", "GridFTP", "chosen", "cp")
UP = ("tar | ssh tar", "SFTP before", "SFTP", "stream")
ZERO_DELAY_ONLY = ("GridFTP", "cp")
# Ways that pay round trips per file (OpenSSH's scp speaks SFTP since 9.0).
PER_FILE = ("scp", "SFTP before", "SFTP")
# (case, way, baseline, the least ratio of the baseline's time to the way's), the issue's
# goals for this machine.
GOALS = (("bulk", "GridFTP", "scp", 1.5), ("bulk", "SFTP", "scp", 0.8),
         ("frames", "chosen", "SFTP before", 5.0), ("scene", "stream", "tar | ssh tar", 0.5))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="runs at 0 ms")
    parser.add_argument("--delayed-runs", type=int, default=1, help="runs at each delay")
    parser.add_argument("--delays", type=int, nargs="+", default=[0, 20, 100],
                        help="round-trip times added, ms")
    parser.add_argument("--cases", nargs="+", choices=("bulk", "frames", "scene"),
                        default=["bulk", "frames", "scene"])
    parser.add_argument("--bulk-mib", type=int, default=1024)
    parser.add_argument("--sample", type=int, default=100,
                        help="files moved one by one at a delay, extended to the case")
    args = parser.parse_args()
    # The stager says which way it chose, and why.
    logging.basicConfig(level=logging.WARNING, format="    %(message)s")
    logging.getLogger("raycrafter_worker.staging").setLevel(logging.INFO)
    print(f"sch_netem: {netem_available()[1]}; delays through the relay", flush=True)
    load_before = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory(prefix="rc-bench-") as tmp, \
            bench_cluster(pathlib.Path(tmp)) as (values, cluster):
        tmp = pathlib.Path(tmp)
        sources = write_cases(cluster, tmp, args)
        for delay in args.delays:
            with reached_with(values, delay, tmp) as (profile, ssh):
                os.makedirs(tmp / f"work-{delay}")
                near = Cluster(profile, str(tmp / f"work-{delay}"))
                try:
                    for case in args.cases:
                        results[(delay, case)] = measure(
                            near, ssh, tmp, case, sources[case], delay,
                            args.runs if delay == 0 else args.delayed_runs, args.sample)
                finally:
                    near.close()
    report(results, args, load_before, os.getloadavg())


# -- the cases ---------------------------------------------------------------------------


def write_cases(cluster, tmp, args):
    """{case: what it moves}: (remote paths, SHA-256s) down, the scene's archive up."""
    sources = {}
    for case, count, size in (("bulk", 1, args.bulk_mib * MIB), ("frames", 500, 200 * KIB)):
        if case in args.cases:
            folder = f"{cluster.profile.scratch}/{case}"
            paths = [f"{folder}/{frame_file_name(n)}" for n in range(count)]
            cluster.make_dirs([folder])
            script = f'for p; do head -c {size} /dev/urandom > "$p" || exit; done'
            for batch in argument_batches(paths):
                cluster.run_checked(f"sh -c {shlex.quote(script)} sh {shlex.join(batch)}",
                                    f"writing the {case} case")
            sources[case] = (paths, cluster.checksums(paths))
    if "scene" in args.cases:
        archive = tmp / "scene.tar.gz"
        includes = [f"folder {n % 20:02d}/include {n:04d}.inc" for n in range(SCENE_FILES - 1)]
        with tarfile.open(archive, "w:gz") as tar:
            for name, data in [("scene.pov", b"".join(b'#include "%s"\n' % name.encode()
                                                      for name in includes))] + [
                    (name, os.urandom(2 * KIB).hex().encode()) for name in includes]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        sources["scene"] = archive
    return sources


@contextlib.contextmanager
def reached_with(values, delay, tmp):
    """(the cluster profile, the OpenSSH arguments) for the cluster ``delay`` ms away."""
    if delay == 0:
        yield worker_config.parse_profile("bench", values), openssh(values, 22)
        return
    with subprocess.Popen([sys.executable, "-m", "support.delay_relay", "22",
                           str(delay / 2000)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True) as relay:
        port = int(relay.stdout.readline())
        known = tmp / f"known_hosts-{port}"
        key = open(values["known_hosts_file"]).read().split(None, 1)[1]
        known.write_text(f"[127.0.0.1]:{port} {key}")
        # GridFTP's data would not pass the relay: the worker chooses between the others.
        changed = dict(values, port=port, known_hosts_file=str(known), transfer="sftp")
        try:
            yield worker_config.parse_profile("bench", changed), openssh(changed, port)
        finally:
            relay.stdin.close()


def openssh(values, port):
    return ["-i", values["key_file"], "-o", f"UserKnownHostsFile={values['known_hosts_file']}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o",
            "IdentitiesOnly=yes", "-o", f"Port={port}"]


def measure(cluster, ssh, tmp, case, source, delay, runs, sample):
    """{way: ([seconds of each run], whether scaled from samples)} for one case at one
    delay."""
    ways = [way for way in (UP if case == "scene" else DOWN)
            if delay == 0 or way not in ZERO_DELAY_ONLY]
    cluster.stager.costs()  # measured before anything is timed, as a worker does at start
    seconds = {way: ([], False) for way in ways}
    for run in range(runs):
        for way in ways[run % len(ways):] + ways[:run % len(ways)]:
            target = tmp / f"{case}-{delay}-{way}"
            files = len(source[0]) if case != "scene" else SCENE_FILES
            if delay and way in PER_FILE and files > sample:
                # A line through two samples: its start and its cost per file.
                small = moved(case, cluster, ssh, way, source, target, sample // 5)
                large = moved(case, cluster, ssh, way, source, target, sample)
                per_file = max(large - small, 0) / (sample - sample // 5)
                took, scaled = max(small - per_file * (sample // 5), 0) + per_file * files, True
            else:
                took, scaled = moved(case, cluster, ssh, way, source, target, None), False
            seconds[way] = (seconds[way][0] + [took], scaled)
            print(f"  {delay:3d} ms {case} run {run + 1} {way}: {'~' if scaled else ''}"
                  f"{took:.2f} s", flush=True)
    return seconds


def moved(case, cluster, ssh, way, source, target, limit):
    """Seconds of one transfer of the case (of its first ``limit`` files)."""
    os.sync()
    if case == "scene":
        return stage_in(cluster, ssh, way, source, limit)
    target.mkdir()
    try:
        return stage_out(cluster, ssh, way, source, target, limit)
    finally:
        shutil.rmtree(target)


# -- the ways -----------------------------------------------------------------------------


def stage_out(cluster, ssh, way, source, target, limit):
    """Seconds of bringing the case (its first ``limit`` files) into ``target``."""
    remote, expected = source
    remote = remote[:limit] if limit and limit < len(remote) else remote
    pairs = [(path, str(target / os.path.basename(path))) for path in remote]
    started = time.monotonic()
    if way == "scp":
        subprocess.run(["scp", "-q", *ssh, f"render@127.0.0.1:{scp_source(cluster, remote)}",
                        str(target)], check=True)
    elif way == "SFTP before":
        with paramiko_sftp(cluster.profile) as sftp:
            for path, local in pairs:
                sftp.get(path, local)
    elif way == "chosen":
        cluster.stager.download(pairs, sum(expected[path][0] for path in remote))
    elif way == "cp":
        subprocess.run(["cp", "--", *remote, str(target)], check=True)
    else:
        cluster.stager.ways[way.lower()].download(pairs)
    took = time.monotonic() - started
    for path, local in pairs:
        if file_checksum(local) != expected[path]:
            sys.exit(f"{way} brought {path} damaged")
    return took


def scp_source(cluster, paths):
    """What scp is given for ``paths``: one file, or a pattern for all of a folder (every
    path named on its own would be an SSH connection each); a folder holding only the
    first files of a case is made (hard links) for a sample."""
    if len(paths) == 1:
        return paths[0]
    folder = os.path.dirname(paths[0])
    names = sorted(os.path.basename(path) for path in paths)
    listed = cluster.run_checked(f"ls {shlex.quote(folder)}", "listing the case").stdout
    if names != sorted(listed.split()):
        sample = f"{folder}-first-{len(paths)}"
        cluster.run_checked(f"mkdir -p {shlex.quote(sample)} && ln -f {shlex.join(paths)} "
                            f"{shlex.quote(sample)}", "linking a sample")
        folder = sample
    return f"{folder}/*"


def stage_in(cluster, ssh, way, archive, limit):
    """Seconds of a stage-in of the scene (its first ``limit`` files) into a fresh job
    folder, from its archive: unpacked here first for the ways that send files."""
    into = f"{cluster.profile.jobs_root}/bench-{re.sub('[^a-z]+', '-', way.lower())}/input"
    cluster.run(f"rm -rf -- {shlex.quote(os.path.dirname(into))}")
    started = time.monotonic()
    count = SCENE_FILES
    if way == "stream":
        cluster.make_dirs([os.path.dirname(into)])
        cluster.stager.ways["stream"].receive_scene(str(archive), "tar.gz",
                                                    file_checksum(archive), into,
                                                    SCENE_LIMITS, "scene.pov")
    else:
        with tempfile.TemporaryDirectory(dir=archive.parent) as folder:
            here = os.path.join(folder, "tree")
            unpacked = scenes.unpack(str(archive), "tar.gz", here, SCENE_LIMITS, "scene.pov")
            files = sorted(unpacked.files)[:limit] if limit else unpacked.files
            count = len(files)
            if way == "tar | ssh tar":
                cluster.make_dirs([into])
                unpack_there = f"tar -C {shlex.quote(into)} -xf -"
                packing = subprocess.Popen(["tar", "-C", here, "-cf", "-", "."],
                                           stdout=subprocess.PIPE)
                subprocess.run(["ssh", *ssh, "render@127.0.0.1", unpack_there],
                               stdin=packing.stdout, check=True)
                packing.stdout.close()
                if packing.wait():
                    raise subprocess.CalledProcessError(packing.returncode, packing.args)
            else:
                pairs = [(os.path.join(here, name), f"{into}/{name}") for name in files]
                cluster.make_dirs(sorted({os.path.dirname(remote) for _, remote in pairs}))
                if way == "SFTP before":
                    with paramiko_sftp(cluster.profile) as sftp:
                        for local, remote in pairs:
                            sftp.put(local, remote)
                else:
                    cluster.stager.ways["sftp"].upload(pairs)
    took = time.monotonic() - started
    there = cluster.run_checked(f"cd {shlex.quote(into)} && find . -type f | wc -l",
                                "counting the scene's files").stdout.split()
    if int(there[0]) != count:
        sys.exit(f"{way} left {there[0]} files of the scene, not {count}")
    cluster.run(f"rm -rf -- {shlex.quote(os.path.dirname(into))}")
    return took


@contextlib.contextmanager
def paramiko_sftp(profile):
    """paramiko's own SFTP client on a connection of its own, as the worker had it."""
    client = paramiko.SSHClient()
    client.load_host_keys(profile.known_hosts_file)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    for attempt in range(3):
        try:
            client.connect(profile.login_host, port=profile.port, username=profile.user,
                           key_filename=profile.key_file, look_for_keys=False,
                           allow_agent=False)
            break
        except paramiko.SSHException:
            # A loaded sshd sometimes refuses a login: the worker would reconnect too.
            if attempt == 2:
                raise
            time.sleep(1)
    client.get_transport().sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        with client.open_sftp() as sftp:
            yield sftp
    finally:
        client.close()


# -- the table ----------------------------------------------------------------------------


def report(results, args, load_before, load_after):
    print(f"\nmedian (worst) seconds; load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after, {os.cpu_count()} cores; {args.runs} run(s) at 0 ms, "
          f"{args.delayed_runs} at each delay; ~: a line through {args.sample // 5} and "
          f"{args.sample} files, extended to the case")
    cases = [case for case in ("bulk", "frames", "scene") if case in args.cases]
    for case in cases:
        ways = UP if case == "scene" else DOWN
        baseline = ways[0]
        print(f"\n{case}: {'round trip':>10} " + " ".join(f"{way:>16}" for way in ways)
              + f"   (x{baseline}: its time over the way's)")
        for delay in args.delays:
            measured = results[(delay, case)]
            cells = []
            for way in ways:
                if way not in measured:
                    cells.append(f"{'-':>16}")
                    continue
                median, worst = summary(measured[way])
                share = summary(measured[baseline])[0] / median
                cells.append(f"{'~' if measured[way][1] else ''}{median:.2f} ({worst:.1f}) "
                             f"{share:.1f}x".rjust(16))
            print(f"{'':>6} {delay:>7} ms " + " ".join(cells))
    print()
    for case, way, baseline, least in GOALS:
        if case not in cases:
            continue
        for delay in args.delays:
            measured = results[(delay, case)]
            if way not in measured:
                continue
            share = summary(measured[baseline])[0] / summary(measured[way])[0]
            print(f"{case} at {delay} ms: {baseline}'s time / {way}'s = {share:.2f} "
                  f"(goal >= {least}): {'met' if share >= least else 'not met'}")
    for delay in args.delays if "bulk" in cases else ():
        if "SFTP" in results[(delay, "bulk")]:
            median, worst = summary(results[(delay, "bulk")]["SFTP"])
            print(f"bulk SFTP at {delay} ms: worst {worst:.2f} s = {worst / median:.2f} x its "
                  f"median (goal <= 1.5)")


def summary(measured):
    """(median, worst) seconds of a way."""
    times, _ = measured
    return statistics.median(times), max(times)


if __name__ == "__main__":
    main()
