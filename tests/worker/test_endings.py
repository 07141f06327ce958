"""How a batch job ended reaches the user, in words, through the real worker, the real API
and the cluster role's Slurm: a launcher's refusal from the batch job's error output, and
a walltime that ran out. Where the cluster keeps accounting (slurmdbd), sacct adds how
long the batch job ran."""
import re
import shlex

import pytest

from support.polling import wait_for
from test_worker_flow import (CLUSTER, api, broker, create_job, start_worker,  # noqa: F401
                              transitions)
from support.worker_harness import publish

APSCHED = "apsched: claim exceeds reservation's node-count"


ELAPSED = r" after \d\d:\d\d:\d\d"


@pytest.fixture
def accounting(login):
    """Whether the cluster keeps accounting: then sacct tells the end, exit code and time
    run included; without, squeue's state word for as long as it lists the job."""
    return login("sacct --noheader --allocations --jobs=1", check=False).returncode == 0


def end_reported(api, job_id):
    """The reason of the event that sent the job back after its batch job ended."""
    wait_for(lambda: ("running", "staging") in transitions(api, job_id)
             or ("submitted", "staging") in transitions(api, job_id), timeout=240,
             interval=1, message="the batch job's end reported")
    events = api.user.get(f"{api.url}/jobs/{job_id}/events").json()["events"]
    return next(e["reason"] for e in reversed(events) if e["to"] == "staging")


def test_a_launchers_refusal_reaches_the_user_with_the_exit_status(
        api, broker, start_worker, fake_agent, login, test_scratch, accounting):
    """The agent fails as under aprun when ALPS refuses the placement: the words come from
    the batch job's .err file, the status from its exit file."""
    start_worker()
    login(f"echo {shlex.quote(APSCHED)} > {test_scratch}/raycrafter/last-words && "
          f"echo 1 > {test_scratch}/raycrafter/exit-status")
    job = create_job(api)
    publish(broker.admin_url, "submit", job["id"], CLUSTER)
    reason = end_reported(api, job["id"])
    told = r"\(FAILED, exit code 1\)" + ELAPSED if accounting else r"\(FAILED\)"
    assert re.search(r": the batch script failed " + told + "; the batch job's output says: "
                     + re.escape(APSCHED), reason), reason
    assert reason.endswith(", exit status 1; 2 frame(s) left, submitting it again")


def test_a_walltime_that_ran_out_is_told_as_such(api, broker, start_worker, fake_agent,
                                                 accounting):
    """Slurm stops the batch job at its walltime; its state, slurmstepd's line in the .err
    file and the status the batch script leaves on SIGTERM make the reason."""
    start_worker(walltime="00:01:00")
    fake_agent(600)
    job = create_job(api)
    publish(broker.admin_url, "submit", job["id"], CLUSTER)
    reason = end_reported(api, job["id"])
    assert re.search(r": the batch job ran out of its walltime \(TIMEOUT\)"
                     + (ELAPSED if accounting else "") + ";", reason), reason
    assert "slurmstepd-localhost: error: *** JOB" in reason and "DUE TO TIME LIMIT ***" in reason
    assert ", exit status 143;" in reason


@pytest.mark.parametrize("scheduler, told", [
    ("pbspro", "ran out of its walltime (JOB_EXEC_KILL_WALLTIME) (Exit_status -29)"),
    ("torque", "ran out of its walltime (JOB_EXEC_OVERLIMIT_WT) (exit_status -11)"),
])
def test_a_walltime_that_ran_out_is_told_in_each_pbs_systems_words(
        api, broker, start_worker, fake_agent, scheduler, told):
    """Through the stand-in's PBS Professional and Torque fronts: each system's own exit
    status for a walltime, read by its own table (the two number it differently)."""
    start_worker(scheduler=scheduler,
                 scheduler_bin_dir=f"/opt/raycrafter/fronts/{scheduler}/bin",
                 walltime="00:01:00")
    fake_agent(600)
    job = create_job(api)
    publish(broker.admin_url, "submit", job["id"], CLUSTER)
    reason = end_reported(api, job["id"])
    assert f": the batch job {told}" in reason, reason
    assert ", exit status 143;" in reason
