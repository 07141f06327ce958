"""One bad job hurts no one: a command that cannot succeed fails its own job with the
reason, and the jobs submitted with it go through the same worker meanwhile; a full disk
holds the stage-ins it stops, and fails none of them."""
import os
import tarfile
import threading

import pytest

from raycrafter_worker import command_runner
from raycrafter_worker.batch_script import JobFiles
from raycrafter_worker.errors import ApiConflict
from support.api_testing import SCENE, tar_gz
from support.polling import wait_for
from support.worker_harness import publish, small_file_system
from test_worker_flow import (CLUSTER, api, broker, create_job, in_state, job_of,  # noqa: F401
                              start_worker, worker_view)

MIB = 1024 * 1024

# Fixtures imported from test_worker_flow are used by name.
pytestmark = pytest.mark.usefixtures("fake_agent")


def create_archived_job(api, members, name):
    response = api.user.post(f"{api.url}/jobs",
                             files={"scene": ("scene.tar.gz", tar_gz(members))},
                             data={"name": name, "frames": "1", "width": "32", "height": "24"})
    assert response.status_code == 201, response.text
    return response.json()


def test_bad_jobs_fail_with_their_reason_while_good_ones_go_through(api, broker,
                                                                    start_worker, tmp_path):
    # The worker's scene limits are below the API's (one pillar key on another host was
    # changed): the API accepts a scene the worker will not unpack. Another job's stored
    # scene was damaged on the API's disk. One delivery slot, so nothing can overtake them.
    start_worker(settings={"prefetch": 1, "max_archive_members": 3})
    too_many = create_archived_job(api, [("scene.pov", SCENE)] + [
        (f"inc/{i}.inc", b"") for i in range(5)], "too many files")
    damaged = create_job(api, name="damaged on disk")
    stored = tmp_path / "api-data" / "jobs" / str(damaged["id"]) / "input" / "scene.pov"
    stored.write_bytes(stored.read_bytes() + b"// changed after the checksum\n")
    good = [create_job(api, name=f"good {i}") for i in range(3)]
    for job in (too_many, damaged, *good):
        publish(broker.admin_url, "submit", job["id"], CLUSTER)

    for job in good:
        wait_for(lambda: in_state(api, job["id"], "submitted", "running", "staging")
                 and worker_view(api, job["id"]).get("batch_job_id"), timeout=90,
                 message=f"good job {job['id']} submitted")
    wait_for(lambda: in_state(api, too_many["id"], "failed"), timeout=30,
             message="the job with too many files failed")
    assert "more than 3 members" in job_of(api, too_many["id"])["error"]
    wait_for(lambda: in_state(api, damaged["id"], "failed"), timeout=30,
             message="the damaged job failed")
    assert "does not match the checksum" in job_of(api, damaged["id"])["error"]


def submitted(api, job):
    return bool(worker_view(api, job["id"]).get("batch_job_id"))


def retried(worker, job):
    return f"submit of job {job['id']} failed (" in worker.log()


def test_a_link_in_a_folder_without_an_entry_unpacks_on_the_worker(api, broker, start_worker,
                                                                  login, test_scratch):
    # As `tar -czf s.tgz scene.pov inc/a.inc links/a.inc` makes it: no entry for links/.
    start_worker()
    link = tarfile.TarInfo("links/a.inc")
    link.type, link.linkname = tarfile.SYMTYPE, "../inc/a.inc"
    job = create_archived_job(api, [("scene.pov", SCENE), ("inc/a.inc", b"// a\n"),
                                    (link, None)], "a link alone in its folder")
    publish(broker.admin_url, "submit", job["id"], CLUSTER)
    wait_for(lambda: submitted(api, job), timeout=90, message="the job submitted")
    files = JobFiles(f"{test_scratch}/raycrafter/{job['id']}", 0)
    assert login(f"cat {files.input_dir}/links/a.inc").stdout == "// a\n"


def test_a_scene_the_worker_cannot_unpack_fails_its_job_with_the_reason_at_once(
        api, broker, start_worker, tmp_path):
    # The worker's folder sits so deep that a name the rule allows passes the longest path
    # Linux takes: a failure the rule cannot foresee, met on every try.
    deep = tmp_path.joinpath(*["d" * 250] * 14)
    deep.mkdir(parents=True)
    worker = start_worker(environment={"TMPDIR": str(deep)})
    job = create_archived_job(api, [("scene.pov", SCENE), ("/".join(["n" * 200] * 3), b"")],
                              "a long name")
    publish(broker.admin_url, "submit", job["id"], CLUSTER)
    wait_for(lambda: in_state(api, job["id"], "failed"), timeout=60, message="the job failed")
    assert "the scene cannot be unpacked on the worker" in job_of(api, job["id"])["error"]
    assert "File name too long" in job_of(api, job["id"])["error"]
    assert "crashed" not in worker.log() and not retried(worker, job)


def test_a_full_disk_on_the_worker_holds_the_job_that_fills_it_and_fails_no_one(
        api, broker, start_worker, tmp_path):
    with small_file_system(str(tmp_path / "small"), "size=1m"):
        worker = start_worker(environment={"TMPDIR": str(tmp_path / "small")})
        big = create_archived_job(api, [("scene.pov", SCENE), ("zeros.inc", b"\0" * 3 * MIB)],
                                  "more than the worker's disk holds")
        publish(broker.admin_url, "submit", big["id"], CLUSTER)
        wait_for(lambda: retried(worker, big), timeout=60, message="the big job retried")
        small = create_job(api, name="another user's")
        publish(broker.admin_url, "submit", small["id"], CLUSTER)
        wait_for(lambda: submitted(api, small), timeout=90, message="the small job submitted")
        assert "the worker's disk is full: [Errno 28] No space left on device" in worker.log()
        assert job_of(api, big["id"])["state"] == "staging"
        worker.stop()


SCRATCH_OPTIONS = "uid=render,gid=render,mode=0700"


@pytest.mark.parametrize("transfer", ["gridftp", "sftp"])
def test_a_full_scratch_holds_every_stage_in_until_there_is_room(api, broker, start_worker,
                                                                login, test_scratch, transfer):
    # Other files fill the cluster's scratch (frames not collected yet, say): both jobs'
    # stage-ins wait, neither fails, and once there is room both are submitted.
    jobs_root = f"{test_scratch}/raycrafter"
    with small_file_system(jobs_root, f"size=2m,{SCRATCH_OPTIONS}") as remount:
        login(f"head -c 4M /dev/urandom > {jobs_root}/others", check=False)
        worker = start_worker(transfer=transfer, gridftp_min_bytes=0)
        jobs = [create_archived_job(api, [("scene.pov", SCENE), ("noise.inc", os.urandom(MIB))],
                                    name) for name in ("one user's", "another user's")]
        for job in jobs:
            publish(broker.admin_url, "submit", job["id"], CLUSTER)
        for job in jobs:
            wait_for(lambda: retried(worker, job), timeout=60, message="each job retried")
        assert [job_of(api, job["id"])["state"] for job in jobs] == ["staging"] * 2
        remount(f"size=64m,{SCRATCH_OPTIONS}")
        for job in jobs:
            wait_for(lambda: submitted(api, job), timeout=120, message="both jobs submitted")
        worker.stop()


@pytest.mark.parametrize("transfer", ["gridftp", "sftp"])
def test_a_scene_that_never_finds_room_fails_its_job_alone_after_the_wait(
        api, broker, start_worker, login, test_scratch, transfer):
    # One job's scene is bigger than the cluster's whole scratch. While it waits for room
    # it holds none, so another job's stage-in goes through; once it has been in staging
    # for stage_in_disk_wait_seconds it fails, with the last error as the reason.
    with small_file_system(f"{test_scratch}/raycrafter", f"size=2m,{SCRATCH_OPTIONS}"):
        worker = start_worker(settings={"stage_in_disk_wait_seconds": 40}, transfer=transfer,
                              gridftp_min_bytes=0)
        big = create_archived_job(api, [("scene.pov", SCENE),
                                        ("noise.inc", os.urandom(3 * MIB))], "too big")
        publish(broker.admin_url, "submit", big["id"], CLUSTER)
        wait_for(lambda: retried(worker, big), timeout=60, message="the big job retried")
        small = create_job(api, name="another user's")
        publish(broker.admin_url, "submit", small["id"], CLUSTER)
        wait_for(lambda: submitted(api, small), timeout=90, message="the small job submitted")
        assert job_of(api, big["id"])["state"] == "staging"
        wait_for(lambda: in_state(api, big["id"], "failed"), timeout=180,
                 message="the big job failed after the wait")
        error = job_of(api, big["id"])["error"]
        assert error.startswith("no room to stage the scene in on cluster stand-in for ")
        assert ("No space left on device" if transfer == "gridftp"
                else "bytes free, 3145728 needed") in error, error
        assert "make room on the cluster's scratch" in error
        assert job_of(api, small["id"])["state"] != "failed"
        # What the big job had copied went with its failure.
        assert login(f"test -e {test_scratch}/raycrafter/{big['id']}/input",
                     check=False).returncode == 1
        worker.stop()


class Reports:
    """Stands in for the API client: records the failure a consumer reports."""

    def __init__(self):
        self.failed = {}

    def transition(self, job_id, to, reason=None):
        if to != "failed":
            raise ApiConflict("illegal_transition", "only failures are expected here")
        self.failed[job_id] = reason


class CrashingHandlers:
    """A handler with a bug that one job's data sets off every time. No real input is known
    to crash the worker, so this double stands in for the next one that will."""

    def __init__(self):
        self.api = Reports()
        self.calls = 0

    def handle(self, message):
        self.calls += 1
        raise KeyError("frames")


def test_a_command_that_crashes_every_time_fails_its_job_after_a_bound(monkeypatch):
    monkeypatch.setattr(command_runner, "sleep_unless_stopped", lambda delay, stop: False)
    handlers = CrashingHandlers()
    runner = command_runner.CommandRunner(handlers, 60, threading.Event())
    message = {"command": "submit", "job_id": 7}
    outcomes = [runner.process(message) for _ in range(command_runner.MAX_CRASHES)]
    assert outcomes == [command_runner.REQUEUE] * (command_runner.MAX_CRASHES - 1) + [
        command_runner.ACK]
    assert handlers.calls == command_runner.MAX_CRASHES
    reason = handlers.api.failed[7]
    assert "failed 3 times on this job's submit" in reason and "KeyError" in reason
