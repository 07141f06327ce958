"""Staging files over GridFTP (sshftp, -dcpriv) and SFTP, verified by checksum."""
import hashlib
import os
import shlex
import shutil
import time

import pytest

from raycrafter_worker import bundles
from raycrafter_worker.cluster import file_checksum
from raycrafter_worker.errors import PermanentError, TransientError
from support.worker_harness import small_file_system

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


def wrap_globus_url_copy(tmp_path, monkeypatch, first, run):
    """Put a globus-url-copy first on PATH that runs the shell line ``first``, then the
    real one as the line ``run`` says, with ``REAL`` standing for its path."""
    real = shutil.which("globus-url-copy")
    wrappers = tmp_path / "wrappers"
    wrappers.mkdir()
    wrapper = wrappers / "globus-url-copy"
    wrapper.write_text(f"#!/bin/sh\n{first}\n{run.replace('REAL', real)}\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrappers}:{os.environ['PATH']}")


@pytest.fixture
def globus_url_copy_runs(tmp_path, monkeypatch):
    """The real globus-url-copy, recording each run's arguments (one line each) and its
    control channel (-dbg) in files of their own."""
    runs, control = tmp_path / "globus-url-copy.runs", tmp_path / "globus-url-copy.control"
    wrap_globus_url_copy(tmp_path, monkeypatch, f"printf '%s\\n' \"$*\" >> {runs}",
                         f"exec REAL -dbg \"$@\" 2>> {control}")
    return lambda: (runs.read_text().splitlines() if runs.exists() else [],
                    control.read_text(errors="replace") if control.exists() else "")


def bundles_left(login, cluster):
    folder = shlex.quote(bundles.remote_dir(cluster.profile))
    return login(f"ls -A {folder} 2>/dev/null || true").stdout.split()


def test_many_files_from_the_cluster_travel_as_one_bundle_over_a_private_channel(
        make_cluster, login, test_scratch, tmp_path, globus_url_copy_runs):
    cluster = make_cluster(transfer="gridftp", gridftp_min_bytes=0)
    cluster.make_dirs([cluster.profile.jobs_root + "/.x509", f"{test_scratch}/frames"])
    remote = [f"{test_scratch}/frames/{ODD} {i}.png" for i in range(40)]
    login(f"cd {test_scratch}/frames && for i in $(seq 0 39); do "
          f"head -c $((i * 7919)) /dev/urandom > {shlex.quote(ODD)}\" $i.png\"; done && "
          f"ln -s {shlex.quote(ODD)}' 3.png' linked.png && "
          f"ln {shlex.quote(ODD)}' 4.png' hard.png")
    remote += [f"{test_scratch}/frames/linked.png", f"{test_scratch}/frames/hard.png"]
    pairs = [(path, str(tmp_path / "back" / f"{i}.png")) for i, path in enumerate(remote)]
    pairs.append((remote[5], str(tmp_path / "back" / "again" / "5.png")))
    expected = cluster.checksums(remote)
    cluster.stager.download(pairs, 0)
    for path, local in pairs:
        assert file_checksum(local) == expected[path]
    assert expected[remote[-2]] == expected[remote[3]] and expected[remote[0]][0] == 0
    runs, control = globus_url_copy_runs()
    assert len(runs) == 1 and f"{bundles.remote_dir(cluster.profile)}/" in runs[0]
    assert "DCAU A" in control and "200 Protection level set to P." in control
    assert bundles_left(login, cluster) == []
    listed = login(f"ls -A ~ {test_scratch} {test_scratch}/frames").stdout.splitlines()
    assert "pwned" not in listed


def test_a_single_file_goes_over_a_private_channel_without_a_bundle(
        make_cluster, login, test_scratch, tmp_path, globus_url_copy_runs):
    cluster = make_cluster(transfer="gridftp", gridftp_min_bytes=0)
    cluster.make_dirs([cluster.profile.jobs_root + "/.x509"])
    login(f"head -c 100000 /dev/urandom > {test_scratch}/one.png")
    expected = cluster.checksums([f"{test_scratch}/one.png"])
    cluster.download_verified([(f"{test_scratch}/one.png", str(tmp_path / "one.png"))],
                              expected)
    runs, control = globus_url_copy_runs()
    assert len(runs) == 1 and "-f " in runs[0] and ".bundles" not in runs[0]
    assert "DCAU A" in control and "200 Protection level set to P." in control


def test_files_that_cannot_be_bundled_travel_one_by_one(make_cluster, login, test_scratch,
                                                        tmp_path, globus_url_copy_runs):
    # A file where the bundles' folder belongs stands for a full or read-only scratch.
    cluster = make_cluster(transfer="gridftp", gridftp_min_bytes=0)
    cluster.make_dirs([cluster.profile.jobs_root + "/.x509"])
    login(f"touch {shlex.quote(bundles.remote_dir(cluster.profile))} && "
          f"for i in 1 2 3; do head -c 5000 /dev/urandom > {test_scratch}/$i.png; done")
    remote = [f"{test_scratch}/{i}.png" for i in (1, 2, 3)]
    pairs = [(path, str(tmp_path / os.path.basename(path))) for path in remote]
    cluster.download_verified(pairs, cluster.checksums(remote))
    runs, _ = globus_url_copy_runs()
    assert len(runs) == 1 and "-f " in runs[0]


def test_a_file_missing_among_many_fails_with_the_servers_message(make_cluster, login,
                                                                 test_scratch, tmp_path):
    cluster = make_cluster(transfer="gridftp", gridftp_min_bytes=0)
    cluster.make_dirs([cluster.profile.jobs_root + "/.x509"])
    login(f"printf a > {test_scratch}/a.png && printf b > {test_scratch}/b.png")
    pairs = [(f"{test_scratch}/{name}.png", str(tmp_path / f"{name}.png"))
             for name in ("a", "gone", "b")]
    with pytest.raises(PermanentError, match="No such file"):
        cluster.stager.download(pairs, 0)
    assert bundles_left(login, cluster) == []


def test_a_folder_among_the_files_fails_the_transfer_for_good(make_cluster, login,
                                                             test_scratch, tmp_path):
    cluster = make_cluster(transfer="gridftp", gridftp_min_bytes=0)
    cluster.make_dirs([cluster.profile.jobs_root + "/.x509", f"{test_scratch}/folder"])
    login(f"printf a > {test_scratch}/a.png")
    pairs = [(f"{test_scratch}/a.png", str(tmp_path / "a.png")),
             (f"{test_scratch}/folder", str(tmp_path / "folder.png"))]
    with pytest.raises(PermanentError, match="not a regular file"):
        cluster.stager.download(pairs, 0)
    assert bundles_left(login, cluster) == []


def test_a_bundle_gone_before_its_transfer_fails_with_gridftps_reply(
        make_cluster, login, test_scratch, tmp_path, monkeypatch):
    # globus-url-copy's own failure, not the stream it cut short, is what the worker meets.
    cluster = make_cluster(transfer="gridftp", gridftp_min_bytes=0)
    folder = bundles.remote_dir(cluster.profile)
    wrap_globus_url_copy(tmp_path, monkeypatch, f"rm -f {folder}/*", 'exec REAL "$@"')
    cluster.make_dirs([cluster.profile.jobs_root + "/.x509"])
    login(f"printf a > {test_scratch}/a.png && printf b > {test_scratch}/b.png")
    pairs = [(f"{test_scratch}/{name}.png", str(tmp_path / f"{name}.png")) for name in "ab"]
    with pytest.raises(PermanentError, match="No such file"):
        cluster.stager.download(pairs, 0)


def test_a_bundle_left_behind_for_a_day_is_swept_by_the_next(make_cluster, login,
                                                            test_scratch, tmp_path):
    cluster = make_cluster(transfer="gridftp", gridftp_min_bytes=0)
    folder = shlex.quote(bundles.remote_dir(cluster.profile))
    cluster.make_dirs([cluster.profile.jobs_root + "/.x509"])
    login(f"mkdir -p {folder} && touch -d '25 hours ago' {folder}/old.tar && "
          f"touch -d '23 hours ago' {folder}/recent.tar && "
          f"printf a > {test_scratch}/a.png && printf b > {test_scratch}/b.png")
    pairs = [(f"{test_scratch}/{name}.png", str(tmp_path / f"{name}.png")) for name in "ab"]
    cluster.stager.download(pairs, 0)
    assert bundles_left(login, cluster) == ["recent.tar"]


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


@pytest.mark.parametrize("transfer", ["gridftp", "sftp"])
def test_a_full_scratch_is_waited_out_not_blamed_on_the_job(make_cluster, test_scratch,
                                                           tmp_path, transfer):
    # A scratch with room for 1 MiB and three folders: most likely another job's files
    # fill it, and the space comes back when they are collected.
    full = f"{test_scratch}/full"
    with small_file_system(full, "size=1m,nr_inodes=4,uid=render,gid=render,mode=0700"):
        cluster = make_cluster(transfer=transfer, gridftp_min_bytes=0)
        cluster.make_dirs([cluster.profile.jobs_root + "/.x509"])
        source = tmp_path / "scene.inc"
        source.write_bytes(os.urandom(2 * 1024 * 1024))
        with pytest.raises(TransientError) as upload:
            cluster.upload_verified([(str(source), f"{full}/scene.inc")])
        if transfer == "gridftp":
            assert "System error in write: No space left on device" in str(upload.value)
        with pytest.raises(TransientError, match="creating directories .* No space left"):
            cluster.make_dirs([f"{full}/a", f"{full}/b", f"{full}/c"])


@pytest.mark.parametrize("transfer", ["gridftp", "sftp"])
def test_a_full_disk_on_the_worker_is_waited_out_too(make_cluster, login, test_scratch,
                                                    tmp_path, transfer):
    cluster = make_cluster(transfer=transfer, gridftp_min_bytes=0)
    cluster.make_dirs([cluster.profile.jobs_root + "/.x509"])
    login(f"head -c 2M /dev/urandom > {test_scratch}/frame.png")
    with small_file_system(str(tmp_path / "small"), "size=1m"):
        with pytest.raises(TransientError, match="No space left on device"):
            cluster.stager.download([(f"{test_scratch}/frame.png",
                                      str(tmp_path / "small" / "frame.png"))], 0)
