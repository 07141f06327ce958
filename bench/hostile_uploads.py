"""Peak memory of the API while it refuses hostile scene uploads (not a test).

    python bench/hostile_uploads.py

Starts the real API (waitress, SQLite, a data directory in a temporary folder) and posts
small archives made to cost memory or CPU when checked: a 1 GiB zip bomb, a tar whose
single header claims 512 MiB, a zip whose end record claims 60,000 members, a gzip bomb in
a .tar.gz, and for comparison a plain scene and a 200 MiB upload of random bytes. For each
it prints the answer, the upload's size, the time to answer and the API process's peak
resident memory (VmHWM) after it, side by side with the peak after the plain scene: the
baseline a server that only stores what it receives would have.
"""
import gzip
import io
import os
import pathlib
import struct
import tarfile
import tempfile
import time
import zipfile

import requests

from support.api_server import ApiServer, create_user, write_config
from support.api_testing import SCENE

MIB = 1024 * 1024


def zip_bomb():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("scene.pov", SCENE)
        with archive.open("zeros", "w") as out:
            for _ in range(1024):
                out.write(b"\0" * MIB)
    return buffer.getvalue()


def tar_header_bomb():
    size = 512 * MIB
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=1) as out:
        info = tarfile.TarInfo("././@PaxHeader")
        info.type, info.size = tarfile.XHDTYPE, size
        out.write(info.tobuf(tarfile.USTAR_FORMAT))
        out.write(b"%d comment=" % size)
        for _ in range(size // MIB):
            out.write(b"a" * MIB)
    return buffer.getvalue()


def zip_claiming_members():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("scene.pov", SCENE)
    data = bytearray(buffer.getvalue())
    end = data.rindex(b"PK\x05\x06")
    data[end + 8:end + 12] = struct.pack("<HH", 60_000, 60_000)
    return bytes(data)


def tar_gz_bomb():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("scene.pov")
        info.size = len(SCENE)
        tar.addfile(info, io.BytesIO(SCENE))
        info = tarfile.TarInfo("zeros")
        info.size = 1024 * MIB

        class Zeros(io.RawIOBase):
            left = info.size

            def readinto(self, view):
                count = min(len(view), self.left)
                view[:count] = b"\0" * count
                self.left -= count
                return count
        tar.addfile(info, Zeros())
    return buffer.getvalue()


def peak_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def main():
    # The high-water mark only grows: each row is the peak up to that upload.
    cases = [("plain scene (baseline)", "scene.pov", SCENE),
             ("zip bomb, 1 GiB of zeros", "bomb.zip", zip_bomb()),
             ("tar.gz bomb, 1 GiB of zeros", "bomb.tar.gz", tar_gz_bomb()),
             ("tar header claiming 512 MiB", "header.tar.gz", tar_header_bomb()),
             ("zip claiming 60,000 members", "claims.zip", zip_claiming_members()),
             ("200 MiB of random bytes", "noise.zip", os.urandom(200 * MIB))]
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(pathlib.Path(tmp) / "api.toml",
                              database_url=f"sqlite:///{tmp}/api.db", data_dir=f"{tmp}/data")
        with ApiServer(config) as api:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {create_user(config, 'bench')}"
            print(f"{'upload':32} {'size':>10} {'answer':>22} {'seconds':>8} "
                  f"{'API peak MiB':>13} {'baseline MiB':>13}")
            baseline = None
            for label, name, content in cases:
                started = time.monotonic()
                response = session.post(f"{api.url}/jobs", files={"scene": (name, content)},
                                        data={"name": label[:40], "frames": "1",
                                              "width": "32", "height": "24"}, timeout=600)
                elapsed = time.monotonic() - started
                answer = (f"{response.status_code} "
                          f"{response.json().get('error') or 'created'}")
                peak = peak_mib(api.process.pid)
                baseline = baseline or peak
                print(f"{label:32} {len(content) / MIB:9.1f}M {answer:>22} {elapsed:8.2f} "
                      f"{peak:13.0f} {baseline:13.0f}")


if __name__ == "__main__":
    main()
