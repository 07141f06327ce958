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
from support.api_testing import SCENE

MIB = hostile.MIB
BOMB = 1024 * MIB
GOAL_MIB = 100


def link_in_a_folder_of_its_own():
    """``tar -czf`` of files named one by one: links/ has no entry, only a link."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        (folder / "inc").mkdir()
        (folder / "links").mkdir()
        (folder / "scene.pov").write_bytes(SCENE)
        (folder / "inc" / "a.inc").write_bytes(b"// a\n")
        os.symlink("../inc/a.inc", folder / "links" / "a.inc")
        subprocess.run(["tar", "-czf", "s.tar.gz", "scene.pov", "inc/a.inc", "links/a.inc"],
                       cwd=folder, check=True)
        return (folder / "s.tar.gz").read_bytes()


def zip_claiming_members(count):
    data = bytearray(hostile.zip_archive([hostile.stored("scene.pov", SCENE)]))
    end = data.rindex(b"PK\x05\x06")
    data[end + 8:end + 12] = count.to_bytes(2, "little") * 2
    return bytes(data)


def tar_of_many_members(count):
    return hostile.tar_archive([(hostile.file_info(f"inc/{i}.inc", 0), None)
                                for i in range(count)], "")


# (label, upload name, builder, what is expected: "refused" or "accepted")
CASES = [
    ("plain scene", "scene.pov", lambda: SCENE, "accepted"),
    ("zip, deflate bomb (1 GiB)", "bomb.zip", lambda: hostile.zip_bomb("deflate", BOMB),
     "refused"),
    ("zip, bzip2 bomb (1 GiB)", "bomb.zip", lambda: hostile.zip_bomb("bzip2", BOMB),
     "refused"),
    ("zip, LZMA bomb (1 GiB)", "bomb.zip", lambda: hostile.zip_bomb("lzma", BOMB), "refused"),
    ("zip link member, deflate bomb", "link.zip",
     lambda: hostile.zip_link_bomb("deflate", BOMB), "refused"),
    ("zip link member, bzip2 bomb", "link.zip", lambda: hostile.zip_link_bomb("bzip2", BOMB),
     "refused"),
    ("zip link member, LZMA bomb", "link.zip", lambda: hostile.zip_link_bomb("lzma", BOMB),
     "refused"),
    ("zip member lying about its size", "lies.zip",
     lambda: hostile.zip_lying_about_size("bzip2", 1000, BOMB), "refused"),
    ("zip, LZMA dictionary of 1 GiB", "dict.zip",
     lambda: hostile.zip_lzma_dictionary(1 << 30), "refused"),
    ("zip claiming 60,000 members", "claims.zip", lambda: zip_claiming_members(60_000),
     "refused"),
    ("tar.gz bomb (1 GiB)", "bomb.tar.gz", lambda: hostile.tar_bomb("gz", BOMB), "refused"),
    ("tar.bz2 bomb (1 GiB)", "bomb.tar.bz2", lambda: hostile.tar_bomb("bz2", BOMB),
     "refused"),
    ("tar.xz bomb (1 GiB)", "bomb.tar.xz", lambda: hostile.tar_bomb("xz", BOMB), "refused"),
    ("tar.xz, dictionary of 1 GiB", "dict.tar.xz",
     lambda: hostile.tar_xz_dictionary(1 << 30, 150 * MIB), "refused"),
    ("tar header claiming 1 TiB", "claims.tar.gz", lambda: hostile.tar_claiming(1 << 40),
     "refused"),
    ("tar, pax header of 512 MiB", "header.tar.gz",
     lambda: hostile.tar_pax_header_bomb(512 * MIB), "refused"),
    ("tar, GNU sparse map (4M entries)", "sparse.tar.gz",
     lambda: hostile.tar_sparse_map_bomb(200_000), "refused"),
    ("tar, pax sparse map (20M numbers)", "sparse.tar.gz",
     lambda: hostile.tar_pax_sparse_map_bomb(20_000_000), "refused"),
    ("tar, 100,000 small members", "many.tar", lambda: tar_of_many_members(100_000),
     "refused"),
    ("tar, link in a folder without entry", "s.tar.gz", link_in_a_folder_of_its_own,
     "accepted"),
    ("200 MiB of random bytes", "noise.zip", lambda: os.urandom(200 * MIB), "refused"),
]


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
    cases = [case for case in CASES
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
