"""One classification of a command that failed on the login node (command_failures.py),
tested against what real schedulers and shells print: this cluster's captures
(captures/, made by captures/capture.sh) and the messages other projects recorded from
Torque, PBS Pro and Slurm sites (captures/elsewhere/; captures/real/ has more, classified
in test_real_captures.py)."""
import pathlib

import pytest

from raycrafter_worker.command_failures import check, failure
from raycrafter_worker.errors import (DiskFull, PermanentError, QueueLimitReached,
                                     TransientError)
from raycrafter_worker.transport import Result
from real_captures import ELSEWHERE as ELSEWHERE_DIR, message_records

CAPTURES = pathlib.Path(__file__).parent / "captures"
OK = None

# Each capture of this cluster made with its exit status, and what it amounts to.
OWN_CAPTURES = {
    "sbatch_invalid_partition": PermanentError,  # the request itself is wrong
    "qsub_invalid_queue": PermanentError,  # the same, through the PBS wrapper (on stdout)
    # qdel of a job that ended exits 1 without a word: a refusal; Cluster.cancel looks at
    # the queue before it counts one (test_cluster_live).
    "qdel_unknown": PermanentError,
    "qstat_f_empty": PermanentError,  # unless the listing reads it as an empty queue
    "sacct_disabled": PermanentError,  # Cluster.accounting reads it as "no data"
    "scancel_unknown": OK,
    # A full scratch or an exhausted quota, in the commands of a stage-in and a submission
    # (captures/disk_full.sh): most likely another job's files, gone once collected. A
    # DiskFull is transient, and bounds a stage-in that keeps meeting it (handlers.py).
    "mkdir_no_space": DiskFull,
    "write_no_space": DiskFull,
    "tar_no_space": DiskFull,
    "mkdir_quota": DiskFull,
    "write_quota": DiskFull,
    "tar_quota": DiskFull,
}

# Each entry of captures/elsewhere/scheduler-error-messages.txt, by the words that tell it
# apart: what it amounts to, and the status to assume where the peer recorded none.
ELSEWHERE = [
    ('rc: 153  stderr: "qstat: Unknown Job Id', 153, PermanentError),
    ("qdel: Unknown Job Id", 153, PermanentError),
    ("Unauthorized Request  MSG=operation not permitted", 159, PermanentError),
    ("Job exceeds queue resource limits", 190, PermanentError),
    ("user ACL rejected the submitting user", 159, PermanentError),
    ("tracejob", 0, OK),  # words about permissions, but exit status 0
    ("cmd: qsub script              rc: 0", 0, OK),
    ("Job has finished, use -x or -H", 1, PermanentError),
    ('qstat: Unknown Job Id {jobid}"', 1, PermanentError),
    ("cmd: qsub (OpenPBS 23.06.06)", 0, OK),
    # The user has as many jobs as the QOS allows: the job waits its turn.
    ("QOSMaxSubmitJobPerUserLimit", 1, QueueLimitReached),
    ("Submitted batch job 1\"", 0, OK),
    ("Invalid job id specified", 1, PermanentError),
    # Busy: the never-submit-twice path then asks the marker and the queue (nextflow#970:
    # such a job was submitted after all).
    ("Socket timed out on send/recv operation", 1, TransientError),
    # Both lines from one sbatch that succeeded: the exit status decides, not the words.
    ("temporarily unable to accept job", 0, OK),
]


def captured(name):
    return Result(int((CAPTURES / f"{name}.rc").read_text()),
                  (CAPTURES / f"{name}.stdout").read_text(),
                  (CAPTURES / f"{name}.stderr").read_text())


def kind_of(result):
    error = failure(result, "running it")
    return None if error is None else type(error)


def elsewhere_records():
    """(line, rc or None, stdout, stderr) of every command the peers recorded."""
    return message_records(ELSEWHERE_DIR / "scheduler-error-messages.txt")


def test_every_capture_of_this_cluster_is_classified():
    names = {path.stem for path in CAPTURES.glob("*.rc")}
    assert names == set(OWN_CAPTURES)
    assert {name: kind_of(captured(name)) for name in names} == OWN_CAPTURES


def test_a_full_disk_is_retried_with_the_commands_words():
    with pytest.raises(TransientError, match=r"exit 1\): cat: write error: Disk quota exceeded"):
        check(captured("write_quota"), "writing the batch script")


def test_a_rejection_quotes_the_schedulers_words_from_stderr_or_stdout():
    with pytest.raises(PermanentError, match="Invalid partition name specified"):
        check(captured("sbatch_invalid_partition"), "submitting")
    with pytest.raises(PermanentError, match="invalid partition specified: no-such-queue"):
        check(captured("qsub_invalid_queue"), "submitting")
    with pytest.raises(PermanentError, match=r"cancelling failed \(exit 1\): no output"):
        check(captured("qdel_unknown"), "cancelling")


def test_every_message_recorded_elsewhere_is_classified():
    records = elsewhere_records()
    assert len(records) == len(ELSEWHERE)
    seen = []
    for words, assumed_rc, expected in ELSEWHERE:
        (record,) = [r for r in records if words in r[0]]
        line, rc, stdout, stderr = record
        assert rc is None or rc == assumed_rc, line
        seen.append(line)
        assert kind_of(Result(assumed_rc if rc is None else rc, stdout, stderr)) is expected, line
    assert sorted(seen) == sorted(r[0] for r in records)


@pytest.mark.parametrize("status, stderr, expected", [
    (1, "mkdir: cannot create directory '/scratch/x': Permission denied\n", PermanentError),
    (1, "mkdir: cannot create directory '/gone/x': No such file or directory\n",
     PermanentError),
    (1, "sha256sum: /lustre/x: Input/output error\n", TransientError),
    (1, "ls: cannot access '/nfs/x': Stale file handle\n", TransientError),
    (-1, "", TransientError),  # the channel closed without an exit status
    (2, "something nobody foresaw\n", PermanentError),
])
def test_plain_commands_fail_by_the_same_rule(status, stderr, expected):
    assert kind_of(Result(status, "", stderr)) is expected


@pytest.mark.parametrize("message", [
    "slurm_load_jobs error: Unable to contact slurm controller (connect failure)",
    "qstat: cannot connect to server pbs01 (errno=111) Connection refused",
    "squeue: error: slurm_receive_msg: Socket timed out on send/recv operation",
])
def test_a_busy_or_unreachable_scheduler_is_transient(message):
    with pytest.raises(TransientError, match="listing failed"):
        check(Result(1, "", message + "\n"), "listing")


@pytest.mark.parametrize("stderr, expected", [
    # The submit limits Slurm names (slurm.schedmd.com/job_reason_codes.html) ...
    ("sbatch: error: AssocMaxSubmitJobLimit\nsbatch: error: Batch job submission failed: "
     "Job violates accounting/QOS policy (job submit limit, user's size and/or time limits)",
     QueueLimitReached),
    ("sbatch: error: QOSGrpSubmitJobsLimit", QueueLimitReached),
    # ... but a request larger than a limit allows never fits, however long it waits.
    ("sbatch: error: QOSMaxWallDurationPerJobLimit\nsbatch: error: Batch job submission "
     "failed: Job violates accounting/QOS policy (job submit limit, user's size and/or time "
     "limits)", PermanentError),
    ("sbatch: error: Batch job submission failed: Job violates accounting/QOS policy (job "
     "submit limit, user's size and/or time limits)", PermanentError),
    # PBS Professional's entity limits (pbs_messages.c) and Torque's queue limits.
    ("qsub: Maximum number of jobs already in queue workq", QueueLimitReached),
    ("qsub: Maximum number of jobs for user render already in queue workq",
     QueueLimitReached),
    ("qsub: would exceed server's per-user limit of jobs in 'Q' state", QueueLimitReached),
    ("qsub: Job violates queue and/or server resource limits", PermanentError),
])
def test_a_submission_refused_at_a_limit_waits_and_one_that_never_fits_fails(stderr,
                                                                             expected):
    assert kind_of(Result(1, "", stderr + "\n")) is expected
