"""Staging files over GridFTP (sshftp, -dcpriv) and SFTP, verified by checksum."""
import hashlib
import os
import shlex
import time

import pytest

from raycrafter_worker.cluster import file_checksum
from raycrafter_worker.errors import PermanentError

ODD = "a b; $(touch pwned) 'q\" `id` #x.png"


def remote_sha(login, path):
    return login(f"sha256sum < {shlex.quote(path)}").stdout.split()[0]


def test_a_200_mib_stage_out_through_gridftp_arrives_intact(make_cluster, login, test_scratch,
                                                             tmp_path):
    cluster = make_cluster(transfer="gridftp")
    cluster.make_dirs([cluster.profile.jobs_root + "/.x509"])
    path = f"{test_scratch}/big.bin"
    login(f"head -c 200M /dev/urandom > {path}")
    expected = cluster.checksums([path])
    assert expected[path][0] == 200 * 1024 * 1024
    local = tmp_path / "big.bin"
    started = time.monotonic()
    cluster.download_verified([(path, str(local))], expected)
    elapsed = time.monotonic() - started
    assert file_checksum(local) == (200 * 1024 * 1024, remote_sha(login, path))
    print(f"GridFTP stage-out of 200 MiB: {elapsed:.1f} s")


@pytest.mark.parametrize("transfer", ["gridftp", "sftp"])
def test_names_with_shell_metacharacters_survive_both_ways(make_cluster, login, test_scratch,
                                                           tmp_path, transfer):
    cluster = make_cluster(transfer=transfer, gridftp_min_bytes=0)
    cluster.make_dirs([cluster.profile.jobs_root + "/.x509", f"{test_scratch}/in dir"])
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    remote = f"{test_scratch}/in dir/{ODD}"
    cluster.upload_verified([(str(source), remote)])
    assert remote_sha(login, remote) == hashlib.sha256(source.read_bytes()).hexdigest()
    back = tmp_path / ODD
    cluster.download_verified([(remote, str(back))], cluster.checksums([remote]))
    assert back.read_bytes() == source.read_bytes()
    assert "pwned" not in login(f"ls -A {test_scratch} ~").stdout


@pytest.mark.parametrize("transfer", ["gridftp", "sftp"])
def test_a_missing_file_fails_fast_with_the_servers_message(make_cluster, test_scratch,
                                                           tmp_path, transfer):
    cluster = make_cluster(transfer=transfer, gridftp_min_bytes=0)
    cluster.make_dirs([cluster.profile.jobs_root + "/.x509"])
    started = time.monotonic()
    with pytest.raises(PermanentError, match="No such file"):
        cluster.stager.download([(f"{test_scratch}/nothing-here.png",
                                  str(tmp_path / "x.png"))], 1)
    assert time.monotonic() - started < 15


def test_checksums_report_missing_files_in_order(make_cluster, login, test_scratch):
    cluster = make_cluster()
    login(f"printf abc > {test_scratch}/a")
    sums = cluster.checksums([f"{test_scratch}/missing", f"{test_scratch}/a"])
    assert sums == {f"{test_scratch}/missing": None,
                    f"{test_scratch}/a": (3, hashlib.sha256(b"abc").hexdigest())}


@pytest.mark.parametrize("transfer", ["gridftp", "sftp"])
def test_a_scene_of_2000_files_with_long_and_unicode_names_is_staged(make_cluster, login,
                                                                    test_scratch, tmp_path,
                                                                    transfer):
    # 2,000 names of ~100 bytes make commands of ~250 KiB: over the 128 KiB a single
    # argument may have, so the commands naming them must be split. Every tenth name is
    # not ASCII, which the GridFTP server would garble.
    cluster = make_cluster(transfer=transfer, gridftp_min_bytes=0)
    folder = f"{test_scratch}/many {transfer}/textures"
    cluster.make_dirs([cluster.profile.jobs_root + "/.x509", folder])
    names = [f"wood grain {'— ünï' if i % 10 == 0 else '-'} variant {i:04d} {'x' * 60}.inc"
             for i in range(2000)]
    pairs = []
    for i, name in enumerate(names):
        local = tmp_path / f"{i}.inc"
        local.write_bytes(f"// {i}\n".encode())
        pairs.append((str(local), f"{folder}/{name}"))
    cluster.upload_verified(pairs)
    listed = login(f"cd {shlex.quote(folder)} && for f in *; do printf '%s\\n' \"$f\"; done")
    assert sorted(listed.stdout.splitlines()) == sorted(names)
    back = [(remote, str(tmp_path / f"back-{i}")) for i, (_, remote) in enumerate(pairs)]
    cluster.download_verified(back, cluster.checksums([remote for remote, _ in back]))
    assert (tmp_path / "back-10").read_bytes() == b"// 10\n"


def test_a_transfer_smaller_than_gridftp_min_bytes_needs_no_globus_url_copy(
        make_cluster, login, test_scratch, tmp_path, monkeypatch):
    """A small scene or a few frames go over SFTP on the open SSH connection; from
    gridftp_min_bytes on, GridFTP carries the transfer (here: a worker without
    globus-url-copy on its PATH, so that way fails)."""
    monkeypatch.setenv("PATH", "/nonexistent")
    cluster = make_cluster(transfer="gridftp", gridftp_min_bytes=1000)
    source = tmp_path / "scene.pov"
    source.write_bytes(b"x" * 999)
    cluster.upload_verified([(str(source), f"{test_scratch}/scene.pov")])
    back = tmp_path / "back.pov"
    cluster.download_verified([(f"{test_scratch}/scene.pov", str(back))],
                              cluster.checksums([f"{test_scratch}/scene.pov"]))
    assert back.read_bytes() == source.read_bytes()
    source.write_bytes(b"x" * 1000)
    with pytest.raises(PermanentError, match="globus-url-copy is not installed"):
        cluster.upload_verified([(str(source), f"{test_scratch}/big.pov")])
