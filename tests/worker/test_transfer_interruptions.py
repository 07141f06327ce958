"""Transfers that are cut off for real, and one that is large: SFTP's memory stays bounded
whatever the file's size (measured from outside the process), a transfer cut off by the
login node going away resumes where it stopped, and one whose worker is killed leaves no
partial file where a complete one is expected."""
import hashlib
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time

import pytest

from raycrafter_contract.scenes import SceneLimits
from raycrafter_worker import windowed_sftp
from raycrafter_worker.cluster import file_checksum
from raycrafter_worker.errors import TransientError
from raycrafter_worker.staging import partial_path
from support.polling import wait_for

from conftest import only_way

GIB = 1024 ** 3
MIB = 1024 ** 2
# Memory a transfer may add to the worker, whatever the file's size: the SFTP window (two
# windows: what the channel holds and what was taken from it) and the requests in flight.
MEMORY_BOUND = 6 * windowed_sftp.WINDOW_BYTES


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def transfer_process(profile_values, way, direction, source, destination):
    """support.transfer_process started, once it is connected."""
    process = subprocess.Popen(
        [sys.executable, "-m", "support.transfer_process", json.dumps(profile_values), way,
         direction, json.dumps(source) if isinstance(source, list) else source,
         json.dumps(destination) if isinstance(destination, list) else destination],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "connected"
    return process


@pytest.mark.parametrize("direction", ["down", "up"])
def test_a_multi_gib_file_moves_over_sftp_in_bounded_memory(profile_values, login,
                                                            test_scratch, tmp_path,
                                                            direction):
    remote, local = f"{test_scratch}/big.bin", str(tmp_path / "big.bin")
    if direction == "down":
        login(f"head -c 3G /dev/urandom > {remote}")
    else:
        subprocess.run(["head", "-c", "3G", "/dev/urandom"], stdout=open(local, "wb"),
                       check=True)
    source, destination = (remote, local) if direction == "down" else (local, remote)
    process = transfer_process(profile_values, "sftp", direction, source, destination)
    baseline = status_kib(process.pid, "VmRSS")
    assert process.stdout.readline().strip() == "done"
    peak = status_kib(process.pid, "VmHWM")
    process.stdin.close()
    assert process.wait(timeout=60) == 0
    there = login(f"sha256sum < {remote} && stat -c %s {remote}").stdout.split()
    assert (int(there[2]), there[0]) == file_checksum(local)
    assert (peak - baseline) * 1024 < MEMORY_BOUND, \
        f"{(peak - baseline) // 1024} MiB above {baseline // 1024} MiB for 3 GiB"


def cut_when(sshd, grown, message):
    """Stop the login node's sshd (and every session it forked) once ``grown()``."""
    def cut():
        wait_for(grown, timeout=120, interval=0.01, message=message)
        sshd.stop()
    thread = threading.Thread(target=cut)
    thread.start()
    return thread


def spy_on_offsets(monkeypatch, method):
    """Record the offset each call of WindowedSftp.``method`` starts from, and run it."""
    offsets = []
    real = getattr(windowed_sftp.WindowedSftp, method)

    def recording(self, handle, target, offset, *rest):
        offsets.append(offset)
        return real(self, handle, target, offset, *rest)
    monkeypatch.setattr(windowed_sftp.WindowedSftp, method, recording)
    return offsets


def test_a_download_cut_off_by_the_login_node_resumes_where_it_stopped(
        make_cluster, login, test_scratch, tmp_path, own_login_node, monkeypatch):
    sshd = own_login_node().start()
    cluster = only_way(make_cluster(port=sshd.port, known_hosts_file=sshd.known_hosts), "sftp")
    remote, local = f"{test_scratch}/frames.bin", str(tmp_path / "frames.bin")
    login(f"head -c 400M /dev/urandom > {remote}")
    partial = local + windowed_sftp.PARTIAL_SUFFIX
    cutter = cut_when(sshd, lambda: os.path.exists(partial) and
                      os.path.getsize(partial) > 40 * MIB, "40 MiB downloaded")
    with pytest.raises(TransientError):
        cluster.stager.download([(remote, local)], 400 * MIB)
    cutter.join()
    assert not os.path.exists(local)
    kept = os.path.getsize(partial)
    assert login(f"head -c {kept} {remote} | sha256sum").stdout.split()[0] == \
        _sha256_of_prefix(partial, kept)
    sshd.start()
    offsets = spy_on_offsets(monkeypatch, "_read_into")
    cluster.download_verified([(remote, local)], cluster.checksums([remote]))
    assert offsets == [kept] and kept < 400 * MIB
    assert not os.path.exists(partial)


def test_an_upload_cut_off_by_the_login_node_resumes_where_it_stopped(
        make_cluster, login, test_scratch, tmp_path, own_login_node, monkeypatch):
    sshd = own_login_node().start()
    cluster = only_way(make_cluster(port=sshd.port, known_hosts_file=sshd.known_hosts), "sftp")
    local, remote = str(tmp_path / "scene.inc"), f"{test_scratch}/input/scene.inc"
    subprocess.run(["head", "-c", "400M", "/dev/urandom"], stdout=open(local, "wb"), check=True)
    login(f"mkdir -p {test_scratch}/input")
    partial = partial_path(remote)
    size_there = f"stat -c %s {shlex.quote(partial)} 2>/dev/null || echo 0"
    cutter = cut_when(sshd, lambda: int(login(size_there).stdout) > 40 * MIB,
                      "40 MiB uploaded")
    with pytest.raises(TransientError):
        cluster.upload_verified([(local, remote)])
    cutter.join()
    assert login(f"ls -A {test_scratch}/input").stdout.split() == [os.path.basename(partial)]
    kept = int(login(size_there).stdout)
    sshd.start()
    offsets = spy_on_offsets(monkeypatch, "_write_from")
    cluster.upload_verified([(local, remote)])
    assert offsets == [kept] and 0 < kept < 400 * MIB
    assert login(f"ls -A {test_scratch}/input").stdout.split() == ["scene.inc"]


@pytest.mark.parametrize("way", ["stream", "sftp", "gridftp"])
def test_a_worker_killed_mid_transfer_leaves_only_complete_files_in_place(
        make_cluster, profile_values, login, test_scratch, tmp_path, way):
    # GridFTP's data channel credential needs the trust folder on the cluster.
    login(f"mkdir -p {test_scratch}/raycrafter/.x509 {test_scratch}/frames && "
          f"cd {test_scratch}/frames && "
          f"for i in $(seq 100 299); do head -c 1M /dev/urandom > frame_00$i.png; done")
    remote = [f"{test_scratch}/frames/frame_00{i}.png" for i in range(100, 300)]
    local = [str(tmp_path / "back" / os.path.basename(path)) for path in remote]
    os.makedirs(tmp_path / "back")
    process = transfer_process(profile_values, way, "down", remote, local)
    wait_for(lambda: len(os.listdir(tmp_path / "back")) > 20, timeout=120, interval=0.01,
             message="some frames arrived")
    process.send_signal(signal.SIGKILL)
    process.wait()
    expected = make_cluster().checksums(remote)
    arrived = dict(zip(local, remote))
    names = os.listdir(tmp_path / "back")
    assert len(names) < len(remote), "the transfer ended before it was killed"
    for name in names:
        path = str(tmp_path / "back" / name)
        if name.endswith(windowed_sftp.PARTIAL_SUFFIX):
            assert path[:-len(windowed_sftp.PARTIAL_SUFFIX)] in arrived
        else:
            assert file_checksum(path) == expected[arrived[path]], name
    cluster = only_way(make_cluster(), way)
    cluster.download_verified(list(zip(remote, local)), expected)
    assert sorted(os.listdir(tmp_path / "back")) == sorted(map(os.path.basename, local))


def test_a_scene_whose_worker_is_killed_mid_stream_leaves_the_job_without_one(
        make_cluster, profile_values, login, test_scratch, tmp_path):
    # A scene of 300 MiB in a plain tar: the login node unpacks what it gets as it comes.
    scene = tmp_path / "scene.tar"
    subprocess.run(["sh", "-c", "head -c 300M /dev/urandom > noise.inc && "
                    "echo 'sphere { 0, 1 }' > scene.pov && tar -cf scene.tar scene.pov "
                    "noise.inc && rm noise.inc"], cwd=tmp_path, check=True)
    cluster = only_way(make_cluster(), "stream")
    job = f"{test_scratch}/raycrafter/9"
    cluster.make_dirs([job])
    child = subprocess.Popen([sys.executable, "-c", RECEIVE_IN_A_CHILD, json.dumps(
        {**profile_values, "scene": str(scene), "into": f"{job}/input"})])
    wait_for(lambda: int(login(f"du -sm {job} | cut -f1").stdout) > 30, timeout=120,
             interval=0.05, message="part of the scene on the login node")
    child.send_signal(signal.SIGKILL)
    child.wait()
    wait_for(lambda: login(f"ls -A {job}").stdout == "", timeout=30,
             message="the login node to clear what it had unpacked")
    answer = cluster.stager.receive_scene(str(scene), "tar", file_checksum(scene),
                                          f"{job}/input", SceneLimits(), None)
    assert answer["files"] == 2
    assert sorted(login(f"ls -A {job}").stdout.split()) == [".input-received.json", "input"]


RECEIVE_IN_A_CHILD = """
import json, sys, tempfile
from raycrafter_contract.scenes import SceneLimits
from raycrafter_worker import config
from raycrafter_worker.checksums import file_checksum
from raycrafter_worker.cluster import Cluster
values = json.loads(sys.argv[1])
scene, into = values.pop("scene"), values.pop("into")
cluster = Cluster(config.parse_profile("stand-in", values), tempfile.mkdtemp())
cluster.stager.ways["stream"].receive_scene(scene, "tar", file_checksum(scene), into,
                                            SceneLimits(), None)
"""


def _sha256_of_prefix(path, size):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read(size)).hexdigest()


def test_streams_ending_while_paramiko_exchanges_keys_end_cleanly(make_cluster):
    # paramiko asks for new keys after 2**29 bytes, so each stream of 512 MiB ends during
    # an exchange: the login node's CLOSE arrives while paramiko waits for the new keys.
    # It once waited to answer it for 30 s, then dropped the connection (transport.py);
    # about two streams in three met that.
    cluster = make_cluster()
    for _ in range(3):
        received = 0
        with cluster.transport.stream("head -c 512M /dev/zero") as stream:
            stream.close_input()
            while data := stream.read(1 << 20):
                received += len(data)
            assert stream.finish().status == 0
        assert received == 512 * MIB
    assert cluster.run("echo still connected").stdout == "still connected\n"
