"""The demo path: the 24-frame example through every tier of the appliance."""
import hashlib
import subprocess

import pytest
from PIL import Image, ImageStat

from conftest import EXAMPLES, gelf_records, job_states
from support.polling import wait_for

pytestmark = pytest.mark.e2e

FRAMES = 24
WIDTH, HEIGHT = 320, 240
JOB_STATES_IN_ORDER = ["pending", "staging", "submitted", "running", "collecting", "done"]


@pytest.fixture(scope="module")
def demo_job(researcher, tmp_path_factory):
    """The example submitted as the demo submits it, waited for and downloaded."""
    download_dir = tmp_path_factory.mktemp("demo-frames")
    result = researcher.cli("submit", EXAMPLES / "orbit", "--frames", f"1-{FRAMES}",
                            "--width", WIDTH, "--height", HEIGHT, "--name", "e2e demo",
                            "--wait", "--download", download_dir, timeout=900)
    jobs = researcher.get("/jobs", limit=5)["jobs"]
    job = next(job for job in jobs if job["name"] == "e2e demo")
    return result, job["id"], download_dir


def test_the_demo_job_ends_done_and_the_cli_says_so(demo_job, researcher):
    result, job_id, _ = demo_job
    assert result.returncode == 0, result.stderr
    job = researcher.job(job_id)
    assert job["state"] == "done"
    assert job["progress"]["done"] == FRAMES
    # Not on a terminal: plain progress lines, no carriage-return redraws.
    assert "\r" not in result.stdout
    assert f"{FRAMES}/{FRAMES}" in result.stdout


def test_every_frame_is_a_distinct_png_of_the_requested_size(demo_job):
    _, _, download_dir = demo_job
    pngs = sorted(download_dir.rglob("*.png"))
    assert len(pngs) == FRAMES, [p.name for p in pngs]
    digests = set()
    for png in pngs:
        with Image.open(png) as image:
            assert image.format == "PNG"
            assert image.size == (WIDTH, HEIGHT), png.name
            rgb = image.convert("RGB")
            spread = [high - low for low, high in rgb.getextrema()]
            assert max(spread) > 64, f"{png.name} is nearly blank: channel spreads {spread}"
            assert max(ImageStat.Stat(rgb).stddev) > 10, f"{png.name} is nearly uniform"
            digests.add(hashlib.sha256(rgb.tobytes()).hexdigest())
    assert len(digests) == FRAMES, f"only {len(digests)} distinct images among {FRAMES} frames"


def test_events_show_every_state_in_order(demo_job, researcher):
    _, job_id, _ = demo_job
    events = researcher.events(job_id)
    assert job_states(events) == JOB_STATES_IN_ORDER
    done_frames = sorted(e["frame"] for e in events if e["frame"] is not None and e["to"] == "done")
    assert done_frames == list(range(1, FRAMES + 1))


def test_the_log_server_holds_records_of_every_frame_with_the_jobs_fields(demo_job, researcher):
    _, job_id, _ = demo_job
    records = [r for r in gelf_records(job_id) if "_service" not in r]  # the node agents'
    frames_logged = {int(r["_frame"]) for r in records if "_frame" in r}
    assert frames_logged == set(range(1, FRAMES + 1))
    batch_job_ids = {r["_batch_job_id"] for r in records}
    assert len(batch_job_ids) == 1 and batch_job_ids != {""}
    for record in records:
        if "_frame" in record:
            for field in ("_attempt", "_lease_id", "_node", "_batch_job_id"):
                assert record.get(field), f"{field} missing in {record}"
            assert record["level"].isdigit()


# The services that handle every job, as their records name them (_service).
SERVICES = ("raycrafter-api", "raycrafter-relay", "raycrafter-worker")


def test_an_operator_sees_the_jobs_records_of_every_component(demo_job):
    """``raycrafter-admin logs --job N``: the API's, the relay's and the worker's records of
    the job beside its node agents', each line saying who wrote it."""
    _, job_id, _ = demo_job
    # A service queues its records and sends them in the background: the last ones may
    # reach the log server a moment after the job ended.
    wait_for(lambda: set(SERVICES) <= {r.get("_service") for r in gelf_records(job_id)},
             timeout=30, interval=0.5, message=f"records of {SERVICES} for job {job_id}")
    shown = subprocess.run(["/usr/local/sbin/raycrafter-admin", "logs", "--job", str(job_id)],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines and all(f" job {job_id} " in line for line in lines)
    by = {service: [line for line in lines if f" job {job_id} {service}: " in line]
          for service in SERVICES}
    assert any("created by " in line for line in by["raycrafter-api"]), by
    assert any("-> done by " in line for line in by["raycrafter-api"]), by
    assert any("relayed to the broker" in line for line in by["raycrafter-relay"]), by
    assert any("staging its scene in" in line for line in by["raycrafter-worker"]), by
    assert any(": rendering " in line and f" job {job_id} frame " in line for line in lines)
    # Every record of the job, and no other job's, carries its number: a search by
    # program finds the worker's alone.
    worker_only = subprocess.run(["/usr/local/sbin/raycrafter-admin", "logs", "--job",
                                  str(job_id), "--program", "raycrafter-worker"],
                                 capture_output=True, text=True, timeout=120)
    assert worker_only.returncode == 0, worker_only.stderr
    assert sorted(worker_only.stdout.splitlines()) == sorted(by["raycrafter-worker"])
