"""The Torque front's own values in `qstat -f` on live jobs: completed jobs stay listed
as C, with exit statuses as Torque records them, and Slurm's live record behind them."""
import time

import pytest

import listing_checks
from fronts_harness import slurm_job
from real_listings import captured_jobs

pytestmark = pytest.mark.apply

KINDS = ("running", "held", "finished", "failed", "walltime", "cancelled")


@pytest.fixture(scope="module")
def listing(fronts, standin_jobs):
    numbers = {kind: standin_jobs.numbers[kind] for kind in KINDS}
    return listing_checks.live_listing(fronts, "torque", numbers)


def test_completed_jobs_stay_listed_in_state_c_until_slurm_forgets_them(listing):
    states = {kind: job.value("job_state") for kind, job in listing[1].items()}
    assert states == {"running": "R", "held": "H", "finished": "C", "failed": "C",
                      "walltime": "C", "cancelled": "C"}
    assert listing[1]["held"].value("Hold_Types") == "u"


def test_exit_status_is_torques_lowercase_field_with_torques_values(listing):
    """exit_status as Torque records it: the script's code, 256 + the signal that killed
    it (271 for a deletion's SIGTERM, as both ICHEC C jobs show), Torque's own
    JOB_EXEC_OVERLIMIT_WT (-11) for a walltime kill; none before the job ends."""
    captured = {values["exit_status"] for _, values in captured_jobs("torque")
                if "exit_status" in values}
    assert captured >= {"0", "271"}
    jobs = listing[1]
    assert {kind: jobs[kind].value("exit_status") for kind in KINDS} == {
        "running": None, "held": None, "finished": "0", "failed": "3", "walltime": "-11",
        "cancelled": "271"}
    assert not any("Exit_status" in job.names() for job in jobs.values())


def test_what_the_listing_says_is_slurms_live_record(listing, standin_jobs):
    for kind, job in listing[1].items():
        record = slurm_job(standin_jobs.numbers[kind])
        assert job.value("ctime") == time.ctime(record["submit_time"]), kind
        if job.value("start_time"):
            assert job.value("start_time") == time.ctime(record["start_time"])
        if job.value("comp_time"):
            assert job.value("comp_time") == time.ctime(record["end_time"])
    remaining = int(listing[1]["running"].value("Walltime.Remaining"))
    record = slurm_job(standin_jobs.numbers["running"])
    limit, elapsed = record["time_limit"] * 60, time.time() - record["start_time"]
    assert limit - elapsed - 2 <= remaining <= limit
