"""Stage-out through the worker's GridFTP against `cp` and the worker's SFTP fallback
(not a test; prints figures).

    /opt/raycrafter/test/bin/python bench/stage_out.py [--runs 3] [--cases frames bulk]

Two cases are written to the cluster's scratch: "frames", 500 files of 200 KiB (a job's
frames), and "bulk", one file of 1 GiB. Each is brought to a local folder three ways:
GridFTP through the worker's own stager (staging.GridFtpStager, as the worker's frame
collection calls it: globus-url-copy over sshftp with a private data channel, several
files as one bundle), SFTP through the worker's fallback (staging.SftpStager over its
paramiko connection), and `cp` reading scratch directly, which only a host that holds the
cluster role can do: the ceiling of a copy on this disk. The methods alternate within
each run, in a rotating order, so that they meet the same load; every run starts after a
`sync`, with an empty folder, so that no method pays for another's writeback. Only the
transfer is timed; each copy is then checked against the SHA-256 taken on the cluster.

Goals: in bulk GridFTP reaches at least 70 % of cp's throughput; for the frames it is at
least 10 times as fast as SFTP.

Runs against the local `cluster` role as root (like tests/worker); the scratch directory,
ssh alias and local copies it makes are removed at the end.
"""
import argparse
import os
import pathlib
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from raycrafter_contract.naming import frame_file_name
from raycrafter_worker.cluster import argument_batches, file_checksum
from raycrafter_worker.staging import SftpStager

from bench_cluster import bench_cluster

KIB = 1024
MIB = 1024 * KIB
CASES = {"frames": (500, 200 * KIB), "bulk": (1, 1024 * MIB)}
METHODS = ("GridFTP", "SFTP", "cp")
# (case, method, baseline, the least share of the baseline's throughput the method
# reaches, how the share reads)
GOALS = (("bulk", "GridFTP", "cp", 0.70, "percent"),
         ("frames", "GridFTP", "SFTP", 10.0, "times"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES))
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="rc-bench-") as tmp, \
            bench_cluster(pathlib.Path(tmp)) as (_, cluster):
        copiers = {"GridFTP": cluster.stager.download,
                   "SFTP": SftpStager(cluster.transport).download,
                   "cp": copy_directly}
        seconds = {case: measure(cluster, pathlib.Path(tmp), case, copiers, args.runs)
                   for case in args.cases}
    report(seconds, args.runs, load_before, os.getloadavg())


def measure(cluster, tmp, case, copiers, runs):
    """{method: [seconds of each run]} for one case."""
    count, size = CASES[case]
    folder = f"{cluster.profile.scratch}/{case}"
    sources = [f"{folder}/{frame_file_name(n)}" for n in range(count)]
    write_random_files(cluster, folder, sources, size)
    expected = cluster.checksums(sources)
    seconds = {method: [] for method in METHODS}
    for run in range(runs):
        for method in METHODS[run % len(METHODS):] + METHODS[:run % len(METHODS)]:
            target = tmp / f"{case}-{method}"
            target.mkdir()
            pairs = [(source, str(target / os.path.basename(source))) for source in sources]
            os.sync()
            started = time.monotonic()
            copiers[method](pairs, count * size)
            seconds[method].append(time.monotonic() - started)
            for source, local in pairs:
                if file_checksum(local) != expected[source]:
                    sys.exit(f"{method} brought {source} damaged")
            shutil.rmtree(target)
            print(f"  {case} run {run + 1} {method}: {seconds[method][-1]:.2f} s", flush=True)
    cluster.run_checked(f"rm -rf -- {shlex.quote(folder)}", f"removing the {case} case")
    return seconds


def write_random_files(cluster, folder, paths, size):
    cluster.make_dirs([folder])
    script = f'for p; do head -c {size} /dev/urandom > "$p" || exit; done'
    for batch in argument_batches(paths):
        cluster.run_checked(f"sh -c {shlex.quote(script)} sh {shlex.join(batch)}",
                            f"writing {len(batch)} file(s) of {size} bytes")


def copy_directly(pairs, size):
    """cp of every file at once (the cluster's scratch is on this host); size unused."""
    subprocess.run(["cp", "--", *(source for source, _ in pairs),
                    os.path.dirname(pairs[0][1])], check=True)


def report(seconds, runs, load_before, load_after):
    print(f"\nstage-out, median of {runs} run(s) (fastest in brackets); load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after, {os.cpu_count()} cores")
    print(f"{'case':<8} {'method':<8} {'seconds':>15} {'MiB/s':>8} {'of cp':>7} "
          f"{'vs SFTP':>8}")
    for case, by_method in seconds.items():
        count, size = CASES[case]
        median = {method: statistics.median(times) for method, times in by_method.items()}
        for method in METHODS:
            throughput = count * size / MIB / median[method]
            print(f"{case:<8} {method:<8} {median[method]:7.2f} "
                  f"({min(by_method[method]):5.2f}) {throughput:8.1f} "
                  f"{shown(median['cp'] / median[method], 'percent'):>7} "
                  f"{shown(median['SFTP'] / median[method], 'times'):>8}")
    for case, method, baseline, least, reading in GOALS:
        if case in seconds:
            share = statistics.median(seconds[case][baseline]) / statistics.median(
                seconds[case][method])
            verdict = "met" if share >= least else "not met"
            print(f"{case}: {method}'s throughput / {baseline}'s = {shown(share, reading)} "
                  f"(goal >= {shown(least, reading)}): {verdict}")


def shown(share, reading):
    return f"{share * 100:.0f} %" if reading == "percent" else f"{share:.1f}x"


if __name__ == "__main__":
    main()
