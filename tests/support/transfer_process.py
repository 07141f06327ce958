"""One transfer through the worker's own code in a process of its own, so that a test can
measure its memory from outside or kill it half-way.

    python -m support.transfer_process PROFILE_JSON WAY DIRECTION SOURCE DESTINATION

PROFILE_JSON is a cluster profile's table (tests/worker/conftest.py); WAY is one of the
stager's ways, DIRECTION "up" or "down"; SOURCE and DESTINATION are paths, or JSON lists of
paths for several files. The process writes "connected" once its SSH connection (and,
for SFTP, a session like the transfer's) is open, "done" when the transfer is over, and
then waits for its standard input to close before it exits, so that its peak memory can
still be read from /proc.
"""
import json
import sys
import tempfile

from raycrafter_worker import config as worker_config
from raycrafter_worker.cluster import Cluster


def main(profile_json, way, direction, source, destination):
    profile = worker_config.parse_profile("stand-in", json.loads(profile_json))
    sources = json.loads(source) if source.startswith("[") else [source]
    destinations = json.loads(destination) if destination.startswith("[") else [destination]
    with tempfile.TemporaryDirectory() as workdir:
        cluster = Cluster(profile, workdir)
        cluster.run("true")
        with cluster.transport.sftp():
            pass
        print("connected", flush=True)
        mover = cluster.stager.ways[way]
        (mover.upload if direction == "up" else mover.download)(
            list(zip(sources, destinations)))
        print("done", flush=True)
        sys.stdin.read()
        cluster.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
