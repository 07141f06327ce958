"""The scheduler adapters parse real output captured from this cluster (captures/,
produced by captures/capture.sh) and build each batch system's own requests;
test_real_captures.py holds what other projects recorded on real sites, and
test_command_failures.py classifies the errors."""
import pathlib
import shlex

import pytest

from raycrafter_worker import config as worker_config
from raycrafter_worker.errors import PermanentError, TransientError
from raycrafter_worker.schedulers import (ADAPTERS, ENDED, QUEUED, RUNNING, Scheduler,
                                          for_profile)
from raycrafter_worker.staging import classify_gridftp_failure
from raycrafter_worker.transport import Result

CAPTURES = pathlib.Path(__file__).parent / "captures"


def capture(name):
    return (CAPTURES / name).read_text()


def captured(name):
    return Result(int(capture(f"{name}.rc")), capture(f"{name}.stdout"),
                  capture(f"{name}.stderr"))


def adapter(scheduler="slurm", **keys):
    """The adapter of a profile like the stand-in's (the captures' user is render)."""
    return for_profile(worker_config.parse_profile("p", {
        "login_host": "h", "user": "render", "key_file": __file__,
        "known_hosts_file": __file__, "scheduler": scheduler, "launcher": "srun",
        "scratch": "/s", "nodeagent": "/a", "agent_api_url": "https://api",
        "transfer": "sftp", **keys}))


SLURM, WRAPPERS = adapter("slurm"), adapter("pbs-wrappers")


def test_sbatch_parsable_output_gives_the_job_id():
    assert SLURM.parse_submit(capture("sbatch_parsable.txt")) == "6"
    assert SLURM.parse_submit("1234;othercluster\n") == "1234"


def test_qsub_output_gives_the_job_id():
    assert WRAPPERS.parse_submit(capture("qsub_submit.txt")) == "8"
    assert WRAPPERS.parse_submit("4711.pbs01.example.org\n") == "4711.pbs01.example.org"
    assert WRAPPERS.parse_submit("4711[].pbs01\n") == "4711[].pbs01"


@pytest.mark.parametrize("text", ["", "Submitted batch job 5\n", "qsub: Unknown queue\n"])
@pytest.mark.parametrize("scheduler", list(ADAPTERS))
def test_submit_output_without_an_id_is_refused(scheduler, text):
    with pytest.raises(ValueError):
        adapter(scheduler).parse_submit(text)


def test_squeue_listing_maps_every_state():
    jobs = {j.name: j for j in SLURM.parse_list(Result(0, capture("squeue.txt"), ""))}
    assert jobs["cap-running-1"].state == RUNNING
    assert jobs["cap-pending"].state == QUEUED
    assert jobs["cap-held"].state == QUEUED and jobs["cap-held"].raw_state == "PENDING"
    assert jobs["cap-running-2"].state == QUEUED
    for ended in ("cap-failed", "cap-cancelled", "rc-1-a1"):
        assert jobs[ended].state == ENDED, ended
    assert jobs["cap-failed"].ending == "the batch script failed (FAILED)"
    assert jobs["cap-cancelled"].ending == "the batch job was cancelled (CANCELLED)"
    assert jobs["cap-running-1"].id == "6" and jobs["cap-running-1"].ending is None
    assert len(jobs) == 11


def test_a_job_name_containing_the_separator_survives():
    (job,) = SLURM.parse_list(Result(0, "42|a|b;c|RUNNING|None\n", ""))
    assert (job.id, job.name, job.state) == ("42", "a|b;c", RUNNING)


def test_a_failed_squeue_is_classified():
    with pytest.raises(TransientError, match="Unable to contact slurm controller"):
        SLURM.parse_list(Result(1, "", "slurm_load_jobs error: Unable to contact slurm "
                                       "controller (connect failure)\n"))


def test_qstat_f_listing_maps_states_and_names():
    jobs = {j.name: j for j in WRAPPERS.parse_list(Result(0, capture("qstat_f.txt"), ""))}
    assert jobs["cap-running-1"].state == RUNNING and jobs["cap-running-1"].id == "6"
    assert jobs["cap-pending"].state == QUEUED and jobs["cap-pending"].raw_state == "Q"
    assert jobs["cap-failed"].state == ENDED and jobs["cap-cancelled"].state == ENDED
    # The wrapper prints no exit status: the exit file tells it.
    assert jobs["cap-failed"].ending == "the batch job finished (job_state C)"
    assert len(jobs) == 11


def test_qstat_f_on_an_empty_queue_is_an_empty_listing_not_a_failure():
    """Slurm's qstat wrapper exits 153 without output when the user has no job at all."""
    empty = captured("qstat_f_empty")
    assert empty.status != 0
    assert WRAPPERS.parse_list(empty) == []
    # The same status with words is a real failure.
    with pytest.raises(PermanentError):
        WRAPPERS.parse_list(Result(153, "", "qstat: Unknown Job Id 5\nqstat: busy\n"))


def test_accounting_disabled_is_recognised_as_no_data():
    disabled = captured("sacct_disabled")
    assert disabled.status != 0 and "accounting storage is disabled" in disabled.stderr
    assert SLURM.parse_accounting(disabled) == []
    (job,) = SLURM.parse_accounting(Result(0, "12|rc-5-a2|TIMEOUT|0:15|00:10:00|00:10:00\n", ""))
    assert (job.state, job.exit_code) == (ENDED, 0)
    assert job.ending == "the batch job ran out of its walltime (TIMEOUT) after 00:10:00"


@pytest.mark.parametrize("row, ending", [
    ("7|rc-1-a1|OUT_OF_MEMORY|0:125|00:03:10|01:00:00",
     "the batch job ran out of memory (OUT_OF_MEMORY) after 00:03:10"),
    ("7|rc-1-a1|PREEMPTED|0:15|00:20:00|01:00:00",
     "the batch job was preempted by a job of higher priority (PREEMPTED) after 00:20:00"),
    ("7|rc-1-a1|FAILED|0:9|00:00:02|01:00:00",
     "the batch script failed (FAILED, killed by SIGKILL) after 00:00:02"),
    ("7|rc-1-a1|BOOT_FAIL|0:0|00:00:00|01:00:00",
     "the batch job's nodes failed to boot (BOOT_FAIL)"),
    ("7|rc-1-a1|CANCELLED by 0|0:0|00:00:00|01:00:00",
     "the batch job was cancelled (CANCELLED by uid 0)"),
])
def test_each_end_slurm_records_reads_as_words(row, ending):
    (job,) = SLURM.parse_accounting(Result(0, row + "\n", ""))
    assert (job.state, job.ending) == (ENDED, ending)


def test_commands_quote_every_value():
    keys = {"queue": "batch", "account": "proj; rm -rf ~"}
    command = adapter("slurm", **keys).submit_command("/s/x y.sh", "n$(id)", "/s/o", "/s/e")
    assert "'proj; rm -rf ~'" in command and "'n$(id)'" in command and "'/s/x y.sh'" in command
    for scheduler in ("pbspro", "torque", "pbs-wrappers"):
        command = adapter(scheduler, **keys).submit_command("/s/x y.sh", "n$(id)", "/s/o", "/s/e")
        assert shlex.split(command)[-5:] == ["-q", "batch", "-A", "proj; rm -rf ~", "/s/x y.sh"]
        assert shlex.split(command)[:3] == ["qsub", "-N", "n$(id)"]


@pytest.mark.parametrize("scheduler, keys, request_", [
    ("pbspro", {}, ["-l", "select=2:mpiprocs=1", "-l", "place=scatter",
                    "-l", "walltime=00:30:00"]),
    ("pbspro", {"cores_per_node": 36}, ["-l", "select=2:ncpus=36:mpiprocs=1",
                                        "-l", "place=scatter", "-l", "walltime=00:30:00"]),
    ("torque", {}, ["-l", "nodes=2", "-l", "walltime=00:30:00"]),
    ("torque", {"cores_per_node": 24}, ["-l", "nodes=2:ppn=24", "-l", "walltime=00:30:00"]),
    ("pbs-wrappers", {}, ["-l", "walltime=00:30:00,nodes=2"]),
    ("slurm", {}, ["-t", "00:30:00", "-N", "2"]),
    ("slurm", {"cores_per_node": 8}, ["-t", "00:30:00", "-N", "2", "--ntasks-per-node=1",
                                      "--cpus-per-task=8"]),
])
def test_each_batch_system_is_asked_for_nodes_in_its_own_words(scheduler, keys, request_):
    command = shlex.split(adapter(scheduler, nodes=2, walltime="00:30:00", **keys)
                          .submit_command("/s/x.sh", "rc-1-a1", "/s/o", "/s/e"))
    start = command.index(request_[0])
    assert command[start:start + len(request_)] == request_, command
    assert command[-1] == "/s/x.sh"


def test_the_schedulers_commands_come_from_the_profiles_directory():
    pbs = adapter("pbspro", scheduler_bin_dir="/opt/pbs/bin")
    assert pbs.submit_command("/s/x.sh", "n", "/s/o", "/s/e").startswith("/opt/pbs/bin/qsub ")
    listing = pbs.list_commands()[0]
    assert "/opt/pbs/bin/qselect -u render" in listing and "/opt/pbs/bin/qstat -f" in listing
    assert pbs.cancel_command(["1.s"]) == "/opt/pbs/bin/qdel 1.s"
    assert pbs.accounting_commands(["1.s"])[0].startswith("/opt/pbs/bin/qstat -x -f ")
    slurm = adapter("slurm", scheduler_bin_dir="/opt/slurm/bin")
    assert slurm.list_commands()[0].startswith("/opt/slurm/bin/squeue ")
    assert adapter("pbspro").cancel_command(["1.s"]) == "qdel 1.s"  # empty: the PATH


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
    for scheduler in ("pbspro", "torque", "pbs-wrappers"):
        assert [(j.id, j.name) for j in adapter(scheduler).parse_list(Result(0, text, ""))] \
            == [("10.server", "rc-3-a1")]


@pytest.mark.parametrize("scheduler", list(ADAPTERS.values()))
def test_every_scheduler_states_the_whole_interface(scheduler):
    for method in ("submit_command", "parse_submit", "list_commands", "parse_list",
                   "cancel_command"):
        assert getattr(scheduler, method) is not getattr(Scheduler, method), method
    assert issubclass(scheduler, Scheduler) and scheduler.JOB_ID_VARIABLE
    assert set(ADAPTERS) == {"slurm", "pbspro", "torque", "pbs-wrappers"}
