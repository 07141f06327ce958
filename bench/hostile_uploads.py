"""Peak memory of the API while it answers hostile scene uploads (not a test).

    python bench/hostile_uploads.py [--only WORDS]

Starts the real API (waitress, SQLite, a data directory in a temporary folder) and posts
archives made to cost memory or CPU when checked (tests/support/hostile_archives.py):
decompression bombs of 1 GiB of zeros in every compression the scene rule reads (zip
deflate, bzip2 and LZMA members, zip link members whose target is the bomb, tar.gz,
tar.bz2, tar.xz), a zip member whose headers lie about its size, decoders asking for 1 GiB
dictionaries, tar headers that tarfile would collect in memory (a 512 MiB pax header, GNU
and pax sparse maps), many small members, a tar made with Debian's tar where a link sits in
a folder without an entry of its own (to be accepted, and unpacked as the worker will),
and for comparison a plain scene and 200 MiB of random bytes.

The API's memory is measured from outside: before each upload its peak resident size
(VmHWM) is reset to what it holds then (``5`` written to /proc/PID/clear_refs; that is
the row's baseline), and read after the answer, so each row's peak is that upload's own.
The goal: every hostile upload refused (the link tar accepted) with the API's peak within
100 MiB of its baseline. Run as root (clear_refs of another process).
"""
import argparse
import os
import pathlib
import subprocess
import tempfile
import time

import requests
from raycrafter_contract import scenes

from support import hostile_archives as hostile
from support.api_server import ApiServer, create_user, write_config

MIB = hostile.MIB
GOAL_MIB = 100


def memory_kib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def reset_peak(pid):
    """Make VmHWM start again from the resident size now (Linux 4.0+); returns it."""
    with open(f"/proc/{pid}/clear_refs", "w") as clear:
        clear.write("5")
    return memory_kib(pid, "VmRSS")


def unpacked(content, name):
    """What the worker's unpack makes of an accepted upload: "unpacks" when it gives the
    files the scene lists, else why not."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "upload")
        with open(path, "wb") as out:
            out.write(content)
        try:
            scene = scenes.unpack(path, scenes.kind_of(name), os.path.join(tmp, "tree"))
        except Exception as error:  # what the worker would meet
            return f"does not unpack ({type(error).__name__})"
        missing = [f for f in scene.files if not os.path.isfile(os.path.join(tmp, "tree", f))]
        return f"{len(missing)} files missing" if missing else "unpacks"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="run only the cases whose label holds these words")
    options = parser.parse_args()
    cases = [case for case in hostile.UPLOADS
             if not options.only or options.only in case[0] or case[0] == "plain scene"]
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(pathlib.Path(tmp) / "api.toml",
                              database_url=f"sqlite:///{tmp}/api.db", data_dir=f"{tmp}/data")
        with ApiServer(config) as api:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {create_user(config, 'bench')}"
            pid = api.process.pid
            print("| upload | size | answer | seconds | API peak MiB | baseline MiB | "
                  "above baseline MiB | goal |")
            print("|---|---|---|---|---|---|---|---|")
            refusals = []
            for label, name, build, expected in cases:
                content = build()
                baseline = reset_peak(pid)
                started = time.monotonic()
                response = session.post(f"{api.url}/jobs", files={"scene": (name, content)},
                                        data={"name": label[:40], "frames": "1",
                                              "width": "32", "height": "24"}, timeout=600)
                elapsed = time.monotonic() - started
                peak = memory_kib(pid, "VmHWM")
                body = response.json()
                answer = f"{response.status_code} {body.get('error') or 'created'}"
                outcome = "refused" if response.status_code == 400 else (
                    "accepted" if response.status_code == 201 else "other")
                worker = "unpacks"
                if outcome == "accepted" and name != "scene.pov":
                    worker = unpacked(content, name)
                    answer += ", " + worker
                met = (outcome == expected and (peak - baseline) / 1024 <= GOAL_MIB
                       and worker == "unpacks")
                print(f"| {label} | {len(content) / MIB:.1f}M | {answer} | {elapsed:.2f} | "
                      f"{peak / 1024:.0f} | {baseline / 1024:.0f} | "
                      f"{round((peak - baseline) / 1024)} | {'met' if met else 'MISSED'} |",
                      flush=True)
                if outcome == "refused":
                    refusals.append(f"{label}: {body.get('message')}")
            print("\nWhy each was refused:\n" + "\n".join(refusals))


if __name__ == "__main__":
    main()
