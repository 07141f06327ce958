"""The PBS Professional front's own values in `qstat -f -x` on live jobs: states, exit
statuses and comments as real PBS Professional servers give them
(tests/worker/captures/real), the history, and Slurm's live record behind them."""
import re
import socket
import subprocess
import time

import pytest

import listing_checks
import real_listings
from fronts_harness import slurm_job
from real_listings import captured_jobs

pytestmark = pytest.mark.apply

KINDS = ("running", "held", "finished", "failed", "walltime", "cancelled")


@pytest.fixture(scope="module")
def listing(fronts, standin_jobs):
    numbers = {kind: standin_jobs.numbers[kind] for kind in KINDS}
    return listing_checks.live_listing(fronts, "pbspro", numbers, "-x")


def test_the_states_are_pbs_professionals(listing):
    """R and H while Slurm runs and holds them; F in the history once ended, substate 92
    for a job that finished (exit 0), 93 for one that failed or was killed at a limit, 91
    for one that was deleted (OpenPBS job.h, as the NAS capture shows for 92 and 93)."""
    states = {kind: (job.value("job_state"), job.value("substate"))
              for kind, job in listing[1].items()}
    assert states == {"running": ("R", "42"), "held": ("H", "20"), "finished": ("F", "92"),
                      "failed": ("F", "93"), "walltime": ("F", "93"), "cancelled": ("F", "91")}
    assert listing[1]["held"].value("Hold_Types") == "u"


def endings_in_captures():
    """{Exit_status: the words the real server's comment ends with for it}."""
    endings = {}
    for _, values in captured_jobs("pbspro"):
        if "Exit_status" in values and "comment" in values:
            endings.setdefault(values["Exit_status"], set()).add(
                re.sub(r"^.*\)", "", values["comment"]).strip())
    return endings


def test_exit_status_and_comment_say_how_each_job_ended_as_real_servers_say_it(listing):
    jobs = listing[1]
    captured = endings_in_captures()
    assert captured["0"] == {"and finished"}
    assert captured["-29"] == {"and exceeded resource walltime"}
    assert captured["255"] == {"and failed"}
    expected = {"finished": ("0", "and finished"), "failed": ("3", "and failed"),
                "walltime": ("-29", "and exceeded resource walltime"),
                # A shell killed by qdel's SIGTERM: 256 + 15 (ICHEC's Torque capture shows
                # 271 too; PBS deletes with the same signal).
                "cancelled": ("271", "and terminated")}
    for kind, (status, ending) in expected.items():
        assert jobs[kind].value("Exit_status") == status, kind
        assert jobs[kind].value("comment").endswith(ending), kind
        assert "exit_status" not in jobs[kind].names()
    for kind in ("running", "held"):
        assert "Exit_status" not in jobs[kind].names()


def test_finished_jobs_are_shown_only_from_the_history(fronts, standin_jobs):
    numbers = [standin_jobs.numbers[kind] for kind in KINDS]
    done = fronts.run("pbspro", "qstat", "-f", *numbers)
    shown = [job.job_id for job in real_listings.read_listing(done.stdout)]
    server = socket.gethostname()
    assert shown == [f"{standin_jobs.numbers[kind]}.{server}" for kind in ("running", "held")]
    assert done.stderr == "".join(
        f"qstat: {standin_jobs.numbers[kind]}.{server} Job has finished, use -x or -H to "
        "obtain historical job information\n"
        for kind in ("finished", "failed", "walltime", "cancelled"))
    assert done.returncode == 35


def test_what_the_listing_says_is_slurms_live_record(listing, standin_jobs):
    """Times, hosts, limits and the shell's pid come from Slurm as it is now."""
    jobs = listing[1]
    for kind, job in jobs.items():
        record = slurm_job(standin_jobs.numbers[kind])
        assert job.value("ctime") == time.ctime(record["submit_time"]), kind
        assert job.value("Job_Name") == record["name"]
        assert job.value("queue") == record["partition"]
        if record["time_limit"]:
            assert job.value("Resource_List.walltime") == \
                f"{record['time_limit'] // 60:02d}:{record['time_limit'] % 60:02d}:00"
        if job.value("stime"):
            assert job.value("stime") == time.ctime(record["start_time"])
            assert job.value("exec_host").split("/")[0] == record["nodes"]
    pids = subprocess.run(["scontrol", "listpids", str(standin_jobs.numbers["running"])],
                          capture_output=True, text=True, check=True).stdout
    assert jobs["running"].value("session_id") in pids.split()


def test_the_tables_list_the_jobs_by_state(fronts, standin_jobs):
    """The default table shows what is queued or running, -H the history only, -a all of
    it in the alternative form: each with a row per job, the state in its column."""
    def rows(*options):
        done = fronts.run("pbspro", "qstat", *options)
        assert done.returncode == 0 and done.stderr == "", done
        return {int(line.split(".")[0]): line for line in done.stdout.splitlines()
                if line[:1].isdigit()}
    ours = {number: kind for kind, number in standin_jobs.numbers.items()}
    default = {ours[number]: line.split()[4] for number, line in rows().items()
               if number in ours}
    assert default == {"running": "R", "held": "H"}
    history = {ours[number] for number in rows("-H") if number in ours}
    assert history == {"finished", "failed", "walltime", "cancelled"}
    alternative = {ours[number]: line.split()[-2] for number, line in rows("-a", "-x").items()
                   if number in ours}
    assert alternative == {"running": "R", "held": "H", "finished": "F", "failed": "F",
                           "walltime": "F", "cancelled": "F"}


def test_a_script_on_standard_input_is_submitted_as_stdin_with_its_directives(fronts):
    done = fronts.run("pbspro", "qsub", "-h",
                      stdin="#!/bin/bash\n#PBS -l walltime=00:02:00\ntrue\n")
    assert done.returncode == 0, done
    try:
        [job] = real_listings.read_listing(
            fronts.run("pbspro", "qstat", "-f", done.stdout.strip()).stdout)
        assert (job.value("Job_Name"), job.value("Resource_List.walltime"),
                job.value("Submit_arguments")) == ("STDIN", "00:02:00", "-h")
    finally:
        fronts.run("pbspro", "qdel", done.stdout.strip())
