"""The scheduler adapters parse real output captured from this cluster (captures/,
produced by captures/capture.sh); test_command_failures.py classifies its errors."""
import pathlib

import types

import pytest

from raycrafter_worker import config as worker_config
from raycrafter_worker.errors import PermanentError, TransientError
from raycrafter_worker.schedulers import ENDED, QUEUED, RUNNING, is_empty_listing
from raycrafter_worker.schedulers.pbs import PbsScheduler
from raycrafter_worker.schedulers.slurm import SlurmScheduler
from raycrafter_worker.staging import classify_gridftp_failure
from raycrafter_worker.transport import Result

CAPTURES = pathlib.Path(__file__).parent / "captures"
# The captures were taken as the stand-in cluster's user.
PBS = PbsScheduler(types.SimpleNamespace(user="render"))


def capture(name):
    return (CAPTURES / name).read_text()


def test_sbatch_parsable_output_gives_the_job_id():
    assert SlurmScheduler.parse_submit(capture("sbatch_parsable.txt")) == "6"
    assert SlurmScheduler.parse_submit("1234;othercluster\n") == "1234"


def test_qsub_output_gives_the_job_id():
    assert PbsScheduler.parse_submit(capture("qsub_submit.txt")) == "8"
    assert PbsScheduler.parse_submit("4711.pbs01.example.org\n") == "4711.pbs01.example.org"


@pytest.mark.parametrize("text", ["", "Submitted batch job 5\n"])
def test_submit_output_without_an_id_is_refused(text):
    with pytest.raises(ValueError):
        SlurmScheduler.parse_submit(text)
    with pytest.raises(ValueError):
        PbsScheduler.parse_submit(text)


def test_squeue_listing_maps_every_state():
    jobs = {j.name: j for j in SlurmScheduler.parse_list(capture("squeue.txt"))}
    assert jobs["cap-running-1"].state == RUNNING
    assert jobs["cap-pending"].state == QUEUED
    assert jobs["cap-held"].state == QUEUED and jobs["cap-held"].raw_state == "PENDING"
    assert jobs["cap-running-2"].state == QUEUED
    for ended in ("cap-failed", "cap-cancelled", "rc-1-a1"):
        assert jobs[ended].state == ENDED, ended
    assert jobs["cap-running-1"].id == "6"
    assert len(jobs) == 11


def test_a_job_name_containing_the_separator_survives():
    (job,) = SlurmScheduler.parse_list("42|a|b;c|RUNNING|None\n")
    assert (job.id, job.name, job.state) == ("42", "a|b;c", RUNNING)


def test_qstat_f_listing_maps_states_and_names():
    jobs = {j.name: j for j in PBS.parse_list(capture("qstat_f.txt"))}
    assert jobs["cap-running-1"].state == RUNNING and jobs["cap-running-1"].id == "6"
    assert jobs["cap-pending"].state == QUEUED and jobs["cap-pending"].raw_state == "Q"
    assert jobs["cap-failed"].state == ENDED and jobs["cap-cancelled"].state == ENDED
    assert len(jobs) == 11


def test_qstat_f_on_an_empty_queue_is_an_empty_listing_not_a_failure():
    """Slurm's qstat wrapper exits 153 without output when the user has no job at all."""
    empty = Result(int(capture("qstat_f_empty.rc")), capture("qstat_f_empty.stdout"),
                   capture("qstat_f_empty.stderr"))
    assert empty.status != 0
    assert is_empty_listing(PbsScheduler, empty)
    # The same status with words is a real failure, and Slurm's squeue has no such case.
    assert not is_empty_listing(PbsScheduler, Result(153, "", "qstat: Unknown Job Id 5\n"))
    assert not is_empty_listing(SlurmScheduler, empty)


def test_qstat_f_continuation_lines_and_exit_status():
    text = ("Job Id: 77.server\n    Job_Name = rc-3-a1\n    Job_Owner = render@login\n"
            "    job_state = C\n"
            "    Variable_List = PBS_O_HOME=/home/u,PBS_O_LANG=C,\n"
            "\tPBS_O_WORKDIR=/scratch/u\n    exit_status = 271\n\n")
    (job,) = PBS.parse_list(text)
    assert (job.id, job.name, job.state, job.exit_code) == ("77.server", "rc-3-a1", ENDED, 271)


def test_accounting_disabled_is_recognised_as_no_data():
    assert int(capture("sacct_disabled.rc")) != 0
    assert "accounting storage is disabled" in capture("sacct_disabled.stderr")
    assert SlurmScheduler.parse_accounting(capture("sacct_disabled.stdout")) == []
    (job,) = SlurmScheduler.parse_accounting("12|rc-5-a2|TIMEOUT|0:15\n")
    assert (job.state, job.exit_code) == (ENDED, 0)


def test_commands_quote_every_value(tmp_path):
    values = {"login_host": "h", "user": "u", "key_file": __file__, "known_hosts_file": __file__,
              "scheduler": "slurm", "launcher": "srun", "scratch": "/s", "nodeagent": "/a",
              "agent_api_url": "https://api", "transfer": "sftp", "queue": "batch",
              "account": "proj; rm -rf ~"}
    profile = worker_config.parse_profile("p", values)
    command = SlurmScheduler(profile).submit_command("/s/x y.sh", "n$(id)", "/s/o", "/s/e")
    assert "'proj; rm -rf ~'" in command and "'n$(id)'" in command and "'/s/x y.sh'" in command
    pbs = PbsScheduler(worker_config.parse_profile("p", {**values, "scheduler": "pbs"}))
    command = pbs.submit_command("/s/x.sh", "rc-1-a1", "/s/o", "/s/e")
    assert command.startswith("qsub -N rc-1-a1 -o /s/o -e /s/e -l walltime=01:00:00,nodes=1")


def test_gridftp_server_errors_are_permanent_and_quote_the_server():
    text = ("error: globus_ftp_client: the server responded with an error\n"
            "550 550-Command failed. : globus_l_gfs_file_open failed.\n"
            "550-globus_xio: Unable to open file /scratch/x/frame_00001.png\n"
            "550-globus_xio: System error in open: No such file or directory\n550 End.\n")
    error = classify_gridftp_failure(text, 1)
    assert isinstance(error, PermanentError)
    assert "No such file or directory" in str(error)
    assert isinstance(classify_gridftp_failure(
        "error: an end-of-file was reached\nglobus_xio: An end of file occurred\n", 1),
        TransientError)
    assert isinstance(classify_gridftp_failure("Host key verification failed.\n", 1),
                      PermanentError)


def test_a_gridftp_data_connection_that_fails_is_transient_despite_the_5xx_reply():
    # As the multi-host tier met it: the server could not connect back to the worker,
    # whose firewall admits no data connection (docs/performance.md, "Stage-out").
    text = ("error: globus_ftp_client: the server responded with an error\n"
            "500 500-Command failed. : callback failed.\n"
            "500-globus_xio: Unable to connect to 10.213.0.24:43523\n"
            "500-globus_xio: System error in connect: Connection timed out\n"
            "500-globus_xio: A system call failed: Connection timed out\n500 End.\n")
    error = classify_gridftp_failure(text, 2)
    assert isinstance(error, TransientError)
    assert "Unable to connect to 10.213.0.24:43523" in str(error)


@pytest.mark.parametrize("name", ["upload_no_space", "upload_quota", "create_quota"])
def test_a_gridftp_upload_to_a_full_scratch_is_transient_despite_the_5xx_reply(name):
    # Captured by captures/disk_full.sh: a full scratch, and an exhausted quota on opening
    # and on writing the file.
    text = (CAPTURES / "gridftp" / f"{name}.stderr").read_text()
    error = classify_gridftp_failure(text, 1)
    assert isinstance(error, TransientError)
    assert ("No space left on device" if "space" in name else "Disk quota exceeded") \
        in str(error)


def test_qstat_f_lists_only_the_cluster_users_own_jobs():
    """qstat -f shows every user's jobs (as the captured Torque listings of shared sites
    do); a stranger's job named like one of ours is left alone."""
    text = ("Job Id: 10.server\n    Job_Name = rc-3-a1\n    Job_Owner = render@login1\n"
            "    job_state = R\n\n"
            "Job Id: 11.server\n    Job_Name = rc-3-a1\n    Job_Owner = vsc30080@r6i0n1\n"
            "    job_state = Q\n\n"
            "Job Id: 12.server\n    Job_Name = rc-4-a1\n    Job_Owner = renderer@login1\n"
            "    job_state = Q\n\n")
    assert [(j.id, j.name) for j in PBS.parse_list(text)] == [("10.server", "rc-3-a1")]


@pytest.mark.parametrize("scheduler", [PbsScheduler, SlurmScheduler])
def test_every_scheduler_states_the_whole_interface(scheduler):
    from raycrafter_worker.schedulers import Scheduler
    for method in ("submit_command", "parse_submit", "list_command", "parse_list",
                   "cancel_command"):
        assert getattr(scheduler, method) is not getattr(Scheduler, method), method
    assert issubclass(scheduler, Scheduler) and scheduler.name in ("pbs", "slurm")
