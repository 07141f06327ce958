"""The PBS Professional and Torque adapters and the aprun launcher against the stand-in
cluster's fronts: commands that answer as those systems answer on real sites, over Slurm's
live state (docs/sites.md, "The stand-in cluster plays each batch system"). The parsers
are held to recorded output in test_real_captures.py; here they meet live jobs."""
import re

import pytest

from raycrafter_worker.cluster import ScriptEnding
from raycrafter_worker.schedulers import ENDED, RUNNING
from support.polling import wait_for
from test_cluster_live import attempt_name, batch_state, job_files, submit

FRONTS = "/opt/raycrafter/fronts"
# What each system calls the exit status it records.
EXIT_ATTRIBUTE = {"pbspro": "Exit_status", "torque": "exit_status"}


@pytest.fixture(params=["pbspro", "torque"])
def front(request, make_cluster):
    """A cluster profile of the system, its commands from the front's directory."""
    return make_cluster(scheduler=request.param,
                        scheduler_bin_dir=f"{FRONTS}/{request.param}/bin")


def state_of(cluster, name):
    """QUEUED, RUNNING or ENDED as the listing shows the batch job, None once it is not
    listed (PBS Professional lists a finished job only with -x)."""
    job = batch_state(cluster, name)
    return job.state if job else None


def test_a_batch_job_is_listed_while_it_runs_and_its_end_told_in_the_systems_words(
        front, fake_agent, login, test_scratch):
    login(f"echo 3 > {test_scratch}/raycrafter/exit-status")
    fake_agent(4)
    files = job_files(front, 41)
    name = attempt_name(front, 41, files)
    batch_id = submit(front, 41, files, "through a front")
    assert re.fullmatch(r"\d+\.[\w.-]+", batch_id), batch_id  # NUMBER.SERVER
    wait_for(lambda: state_of(front, name) == RUNNING, timeout=60, message="it running")
    assert batch_state(front, name).id == batch_id
    wait_for(lambda: state_of(front, name) in (ENDED, None), timeout=90,
             message="it out of the active queue")
    assert front.script_endings([(41, 1)]) == {(41, 1): ScriptEnding(
        3, ("srun: error: localhost: task 0: Exited with exit code 3",))}
    record = front.accounting([batch_id])[batch_id]
    attribute = EXIT_ATTRIBUTE[front.profile.scheduler]
    assert (record.state, record.exit_code) == (ENDED, 3)
    assert record.ending.startswith(f"the batch script exited with status 3 ({attribute} 3)")
    # Cancelling a job that has ended is no failure.
    front.cancel([batch_id])


def test_a_running_batch_job_is_cancelled(front, fake_agent):
    fake_agent(120)
    files = job_files(front, 42)
    name = attempt_name(front, 42, files)
    batch_id = submit(front, 42, files, "cancel me")
    wait_for(lambda: batch_state(front, name) is not None, timeout=30, message="it listed")
    front.cancel([batch_id])
    wait_for(lambda: state_of(front, name) in (ENDED, None), timeout=60,
             message="it gone from the active queue")


def test_aprun_starts_the_agent_inside_a_pbs_job(make_cluster, fake_agent, login):
    """A Cray site's profile: PBS Professional, aprun on the batch job's PATH after the
    setup lines, as `module load` puts it there."""
    cray = make_cluster(scheduler="pbspro", scheduler_bin_dir=f"{FRONTS}/pbspro/bin",
                        launcher="aprun", cores_per_node=1,
                        setup=[f"export PATH={FRONTS}/alps/bin:$PATH"])
    files = job_files(cray, 43)
    submit(cray, 43, files, "on a Cray")
    wait_for(lambda: login(f"cat {files.exit_file}", check=False).stdout.strip() == "0",
             timeout=90, message="the batch job's exit file")
    args = login(f"cat {files.logs_dir}/agent-args").stdout.splitlines()
    assert args[args.index("--job-dir") + 1] == files.job_dir
