"""What the fronts print and exit with when they cannot do what was asked, held to the
texts and exit statuses real servers gave (captures/elsewhere and captures/real, each
record with its source), or, where nobody recorded one, to the batch system's source.

A text recorded as a human paste is compared without its final line break; the job id
or server name in it is replaced by the one of the live job or host.
"""
import json
import re
import socket
import subprocess

import pytest

from fronts_harness import in_state
from real_listings import ELSEWHERE, REAL, recorded_error

pytestmark = pytest.mark.apply

GC3PIE = ELSEWHERE / "scheduler-error-messages.txt"
PBSPRO_ISSUES = REAL / "pbspro-issues-error-messages.txt"
TORQUE_ISSUES = REAL / "torque-issues-error-messages.txt"
HOST = socket.gethostname()


def qtoolkit(name):
    """OpenPBS's qdel/qsub as qtoolkit recorded them: the texts are real, the peer edited
    the exit statuses (README), so only the texts are compared."""
    return json.loads((REAL / f"openpbs-qtoolkit-{name}.json").read_text())["stderr"]


def assert_says(done, expected, status):
    assert (done.stderr.rstrip("\n"), done.returncode) == (expected.rstrip("\n"), status)


@pytest.fixture(scope="module")
def unreachable_slurm(tmp_path_factory):
    """A Slurm configuration whose controller is a loopback port nobody listens on: the
    fronts' Slurm commands get `Unable to contact slurm controller`."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configuration = tmp_path_factory.mktemp("slurm") / "slurm.conf"
    original = open("/etc/slurm/slurm.conf").read()
    configuration.write_text(re.sub(r"^SlurmctldHost=.*$", "SlurmctldHost=localhost(127.0.0.1)",
                                    original, flags=re.M) + f"SlurmctldPort={port}\n")
    return {"SLURM_CONF": str(configuration)}


def test_pbspro_qstat_says_it_cannot_connect_and_still_prints_its_json_header(
        fronts, unreachable_slurm):
    done = fronts.run("pbspro", "qstat", "-f", "-F", "json", env=unreachable_slurm)
    captured = "openpbs-bawserver-qstat-F-json-connection-refused"
    expected = (REAL / f"{captured}.stderr").read_text().replace("6cfab3a0b8ac", HOST)
    assert_says(done, expected, int((REAL / f"{captured}.rc").read_text()))
    header = json.loads((REAL / f"{captured}.stdout").read_text())
    assert set(json.loads(done.stdout)) == set(header) == {"timestamp", "pbs_version",
                                                          "pbs_server"}
    assert json.loads(done.stdout)["pbs_server"] == HOST


def test_pbspro_qsub_says_it_cannot_connect(fronts, unreachable_slurm, job_directory):
    script = job_directory / "unreachable.sh"
    script.write_text("#!/bin/bash\ntrue\n")
    done = fronts.run("pbspro", "qsub", script, env=unreachable_slurm)
    expected, status = recorded_error(PBSPRO_ISSUES, "qsub: cannot connect")
    assert_says(done, expected.replace("s034-lc", HOST), status)
    assert done.stdout == ""


def test_pbspro_qdel_says_it_cannot_connect(fronts, unreachable_slurm):
    """qdel.c: cnt2server()'s perror, then "Couldn't connect to cluster", PBSE_SYSTEM."""
    done = fronts.run("pbspro", "qdel", "1", env=unreachable_slurm)
    assert_says(done, f"Connection refused\nCouldn't connect to cluster: {HOST}\n", 162)


def test_torque_qstat_says_it_cannot_connect(fronts, unreachable_slurm):
    done = fronts.run("torque", "qstat", env=unreachable_slurm)
    expected, _ = recorded_error(TORQUE_ISSUES, "Cannot connect to default server host")
    expected = expected.replace("mskcc-fe1.local", HOST).replace(
        "10.240.16.1", socket.gethostbyname(HOST))
    # The issue gives no exit status; Torque's qstat exits with the errno it names.
    assert_says(done, expected, 111)


def unknown_number():
    listing = json.loads(subprocess.run(["squeue", "--json"], capture_output=True, text=True,
                                        check=True).stdout)
    return max([job["job_id"] for job in listing["jobs"]] + [0]) + 100000


@pytest.mark.parametrize("command", ["qstat", "qdel"])
def test_an_unknown_job_id_is_153_in_both(fronts, command):
    number = unknown_number()
    job_id = f"{number}.{HOST}"
    pbspro = fronts.run("pbspro", command, number)
    expected = (recorded_error(PBSPRO_ISSUES, "qstat: Unknown Job Id")[0].replace(
        "10000.c2cf5fbe1102", job_id) if command == "qstat"
        else qtoolkit("qdel-unknown-job-id").replace("120", job_id))
    # ERT records 153 for qstat (QSTAT_UNKNOWN_JOB_ID); PBSE_UNKJOBID & 0xff for both.
    assert_says(pbspro, expected, 153)
    torque = fronts.run("torque", command, number)
    expected, status = recorded_error(GC3PIE, f"{command}: Unknown Job Id")
    assert_says(torque, expected.replace("{jobid}", job_id), status)


@pytest.mark.parametrize("system", ["pbspro", "torque"])
def test_an_ill_formed_job_id_is_refused_with_status_1(fronts, system):
    done = fronts.run(system, "qdel", "a")
    assert_says(done, qtoolkit("qdel-illegal-id"), 1)


def test_qdel_of_a_finished_job_says_so_in_each_dialect(fronts, standin_jobs):
    number = standin_jobs.numbers["finished"]
    job_id = f"{number}.{HOST}"
    expected, status = recorded_error(PBSPRO_ISSUES, "qdel: Job has finished")
    assert_says(fronts.run("pbspro", "qdel", number),
                expected.replace("484874.s034-lcam", job_id), status)
    assert qtoolkit("qdel-job-has-finished").startswith("qdel: Job has finished ")
    # Torque refuses to delete a completed job (svr_chk_owner.c: PBSE_BADSTATE, 170).
    assert_says(fronts.run("torque", "qdel", number),
                "qdel: Request invalid for state of job MSG=invalid state for job - COMPLETE "
                f"{job_id}\n", 170)


def test_qdel_of_another_users_job_is_unauthorized_and_the_job_runs_on(fronts, standin_jobs):
    number = standin_jobs.numbers["running"]
    job_id = f"{number}.{HOST}"
    pbspro = fronts.run("pbspro", "qdel", number, user="render")
    assert_says(pbspro, qtoolkit("qdel-unauthorized").replace("210", job_id), 159)
    torque = fronts.run("torque", "qdel", number, user="render")
    expected, status = recorded_error(GC3PIE, "MSG=operation not permitted")
    assert_says(torque, expected.replace("{jobid}", job_id), status)
    assert in_state(number, "RUNNING")


def test_an_unknown_queue_is_refused(fronts, job_directory):
    script = job_directory / "queue.sh"
    script.write_text("#!/bin/bash\ntrue\n")
    # qtoolkit's text; PBSE_UNKQUE & 0xff is 170 (OpenPBS), 172 (Torque, whose req_quejob()
    # adds "requested queue not found").
    assert_says(fronts.run("pbspro", "qsub", "-q", "nosuchqueue", script),
                qtoolkit("qsub-unknown-queue"), 170)
    assert_says(fronts.run("torque", "qsub", "-q", "nosuchqueue", script),
                "qsub: Unknown queue MSG=requested queue not found\n", 172)


def accounting_enabled():
    done = subprocess.run(["sacct", "-n", "-X", "-j", "1"], capture_output=True, text=True)
    return "accounting storage is disabled" not in done.stderr


@pytest.fixture
def limiting_qos():
    """A QOS that lets each user queue one job and refuses (DenyOnLimit) a walltime over
    a minute, used through sbatch's SBATCH_QOS. Slurm refuses a submission at a limit only
    through accounting: without it, EnforcePartLimits=NO queues every job."""
    assert accounting_enabled(), "the appliance's Slurm keeps accounting through slurmdbd"
    name = "raycrafterfronts"
    for change in (["add", "qos", name, "MaxSubmitJobsPerUser=1", "MaxWall=00:01:00",
                    "Flags=DenyOnLimit"], ["modify", "user", "root", "set", f"qos+={name}"]):
        done = subprocess.run(["sacctmgr", "-i", *change], capture_output=True, text=True)
        assert done.returncode == 0, done
    yield {"SBATCH_QOS": name}
    subprocess.run(["sacctmgr", "-i", "modify", "user", "root", "set", f"qos-={name}"],
                   capture_output=True)
    subprocess.run(["sacctmgr", "-i", "delete", "qos", name], capture_output=True)


def test_a_request_over_the_limits_is_refused_in_each_dialects_words(
        fronts, job_directory, limiting_qos):
    script = job_directory / "long.sh"
    script.write_text("#!/bin/bash\ntrue\n")
    expected, status = recorded_error(PBSPRO_ISSUES, "violates queue")
    assert_says(fronts.run("pbspro", "qsub", "-l", "walltime=02:00:00", script,
                           env=limiting_qos), expected, status)
    expected, status = recorded_error(GC3PIE, "MSG=cannot locate")
    assert_says(fronts.run("torque", "qsub", "-l", "walltime=02:00:00", script,
                           env=limiting_qos), expected, status)


def test_a_submission_past_a_per_user_limit_is_refused_in_each_dialects_words(
        fronts, job_directory, limiting_qos):
    script = job_directory / "limited.sh"
    script.write_text("#!/bin/bash\ntrue\n")
    first = fronts.run("pbspro", "qsub", "-h", script, env=limiting_qos)
    assert first.returncode == 0, first
    try:
        expected, _ = recorded_error(PBSPRO_ISSUES, "qsub: would exceed queue generic")
        # max_queued's text (msg_et_guq) is the queued_jobs_threshold one without its end;
        # PBSE_ENTLIMCT & 0xff = 38.
        assert_says(fronts.run("pbspro", "qsub", script, env=limiting_qos),
                    expected.split(" of jobs in")[0], 38)
        torque = fronts.run("torque", "qsub", script, env=limiting_qos)
        assert torque.returncode == 228, torque
        assert torque.stderr.startswith(
            "qsub: Maximum number of jobs already in queue for user MSG=total number of "
            "current user's jobs exceeds the queue limit: user root@")
    finally:
        subprocess.run(["scancel", first.stdout.split(".")[0]], capture_output=True)
