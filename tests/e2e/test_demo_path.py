"""The demo path: the 24-frame example through every tier of the appliance."""
import hashlib

import pytest
from PIL import Image, ImageStat

from conftest import EXAMPLES, gelf_records, job_states

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
    records = gelf_records(job_id)
    frames_logged = {int(r["_frame"]) for r in records if "_frame" in r}
    assert frames_logged == set(range(1, FRAMES + 1))
    batch_job_ids = {r["_batch_job_id"] for r in records}
    assert len(batch_job_ids) == 1 and batch_job_ids != {""}
    for record in records:
        if "_frame" in record:
            for field in ("_attempt", "_lease_id", "_node", "_batch_job_id"):
                assert record.get(field), f"{field} missing in {record}"
            assert record["level"].isdigit()
