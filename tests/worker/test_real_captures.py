"""Every scheduler parser against output other projects recorded on real PBS Professional,
OpenPBS, Torque, Slurm and Cray systems (captures/real/README.md: each file's source and
what its own project expects of it, which these tests assert too)."""
import collections
import hashlib
import re
import subprocess

import pytest

from raycrafter_worker import config as worker_config
from raycrafter_worker.batch_script import LAUNCHER_MESSAGES
from raycrafter_worker.cluster import Cluster, ScriptEnding
from raycrafter_worker.command_failures import failure
from raycrafter_worker.errors import PermanentError, QueueLimitReached, TransientError
from raycrafter_worker.poller import how_it_ended
from raycrafter_worker.schedulers import ENDED, QUEUED, RUNNING, UnreadableListing
from raycrafter_worker.schedulers.pbs_wrappers import PbsWrappersScheduler
from raycrafter_worker.schedulers.pbspro import PbsProScheduler
from raycrafter_worker.schedulers.qstat_full import parse_json, parse_text
from raycrafter_worker.schedulers.slurm import SlurmScheduler, parse_rows
from raycrafter_worker.schedulers.torque import TorqueScheduler
from raycrafter_worker.transport import Result
from real_captures import REAL, envelope, message_records, text, triple


def profile(user="render", **keys):
    return worker_config.parse_profile("site", {
        "login_host": "login.example.org", "user": user, "key_file": __file__,
        "known_hosts_file": __file__, "scheduler": "pbspro", "launcher": "srun",
        "scratch": "/scratch", "nodeagent": "/opt/agent", "agent_api_url": "https://api",
        "transfer": "sftp", **keys})


def every_job(scheduler_class, answer):
    """Every job of a qstat answer, whoever owns it."""
    scheduler = scheduler_class(profile())
    return [scheduler.batch_job(job_id, attributes)
            for job_id, attributes in scheduler.parse_jobs(answer)]


def attributes_of(answer, job_id):
    return dict(parse_text(answer))[job_id]


def test_every_real_capture_is_listed_with_its_checksum():
    readme = (REAL / "README.md").read_text()
    listed = dict(reversed(line.split("  ")) for line in readme.splitlines()
                  if re.match(r"^[0-9a-f]{64}  \S+$", line))
    files = {path.name for path in REAL.iterdir() if path.name != "README.md"}
    assert set(listed) == files
    for name, digest in listed.items():
        assert hashlib.sha256((REAL / name).read_bytes()).hexdigest() == digest, name
        assert f"`{name}`" in readme or name.startswith("slurm-gc3pie-") \
            or re.sub(r"\.(rc|stdout|stderr)$", "", name) in readme, name


# -- PBS Professional and OpenPBS, text --------------------------------------------------

def test_aiida_pbspro_listing_has_its_running_held_and_queued_jobs():
    jobs = every_job(PbsProScheduler, text("pbspro-aiida-6jobs.qstat-f.txt"))
    assert len(jobs) == 6
    assert collections.Counter(job.raw_state for job in jobs) == {"R": 2, "H": 2, "Q": 2}
    running = [job for job in jobs if job.state == RUNNING]
    assert {job.id for job in running} == {"69301.mycluster", "74164.mycluster"}
    assert {job.owner for job in running} == {"user02", "user3"}
    assert sum(job.state == QUEUED for job in jobs) == 4  # held jobs wait, as queued ones
    assert all(job.exit_code is None and job.ending is None for job in jobs)


def test_aiida_pbspro_continuations_are_joined_without_their_tab():
    first = attributes_of(text("pbspro-aiida-6jobs.qstat-f.txt"), "68350.mycluster")
    assert first["Error_Path"] == ("mycluster.cluster:/home/usernum1/scratch/cptest/scaletest/"
                                   "PTOscaletest/testjob.err")
    assert ("PBS_O_PATH=/opt/xcat/bin:/opt/xcat/sbin:/usr/lib64/qt-3.3/bin:/usr/local/bin:"
            "/bin:" in first["Variable_List"])
    assert "PBS_O_WORKDIR=/home/usernum1/scratch/cptest/scaletest/PTOscaletest," \
        in first["Variable_List"]


def test_nci_gadi_listing_with_continuations_indented_by_eight_spaces():
    answer = text("pbspro-pysqa-nci-gadi-3jobs.qstat-f.txt")
    jobs = every_job(PbsProScheduler, answer)
    assert [job.id.split(".")[0] for job in jobs] == ["80005196", "80005197", "80005198"]
    assert [job.owner for job in jobs] == ["asd562", "asd562", "fgh562"]
    assert [job.state for job in jobs] == [RUNNING, QUEUED, QUEUED]
    workdirs = [re.search(r"PBS_O_WORKDIR=([^,]*)", attributes["Variable_List"]).group(1)
                for _, attributes in parse_text(answer)]
    assert workdirs[2] == "/scratch/a01/fgh562/VASP/test/test_asdfasdfasdfasdfasdfasdfasdfasdfasdfasdf"
    first = attributes_of(answer, "80005196.gadi-pbs")
    assert first["Resource_List.select"] == \
        "2:ncpus=48:mpiprocs=48:mem=34359738368:job_tags=normal:jobfs=104857600"


def test_nas_history_gives_each_jobs_state_exit_status_and_how_it_ended():
    answer = text("pbspro-pbs4py-nas-athena-qstat-x-f-10jobs.txt")
    jobs = {job.id.split(".")[0]: job for job in every_job(PbsProScheduler, answer)}
    assert list(jobs) == ["127067", "132609", "132706", "132707", "132790", "174557",
                          "174559", "177054", "178178", "178186"]
    assert all(job.id.endswith(".pbs06a.hsn.ath.nas.nasa.gov") for job in jobs.values())
    assert {i for i, job in jobs.items() if job.state == RUNNING} == {"177054", "178186"}
    assert all(job.state == ENDED for i, job in jobs.items() if i not in ("177054", "178186"))
    assert (jobs["132609"].exit_code, jobs["127067"].exit_code, jobs["178178"].exit_code) \
        == (0, -29, -3)
    assert jobs["177054"].exit_code is None and jobs["178186"].exit_code is None
    assert jobs["127067"].ending.startswith(
        "the batch job ran out of its walltime (JOB_EXEC_KILL_WALLTIME) (Exit_status -29) "
        "after ")
    assert jobs["132609"].ending.startswith(
        "the batch script exited with status 0 (Exit_status 0)")
    assert jobs["174557"].ending.startswith(
        "the batch script exited with status 255 (Exit_status 255)")
    assert "lost its first execution host" in jobs["174559"].ending  # -20
    assert jobs["178178"].ending == ("the batch job failed to start and was to be tried "
                                     "again (JOB_EXEC_RETRY) (Exit_status -3)")  # never ran
    by_id = dict(parse_text(answer))
    assert all(a["queue"] == "long" for a in by_id.values())
    running = by_id["178186.pbs06a.hsn.ath.nas.nasa.gov"]
    assert running["exec_host"].split("/")[0] == "x1000c2s0b0n0"
    assert by_id["177054.pbs06a.hsn.ath.nas.nasa.gov"]["Resource_List.select"] == \
        "6:ncpus=256:mpiprocs=256:model=tur_ath"
    # Continuations split words anywhere: "wa" / "lltime".
    assert by_id["127067.pbs06a.hsn.ath.nas.nasa.gov"]["comment"].endswith(
        "+(x1001c1s5b0n3:ncpus=256) and exceeded resource walltime")


def test_nasas_site_qstat_that_prints_job_instead_of_job_id():
    answer = text("pbspro-pbs4py-nas-athena-qstat-x-f-10jobs.txt").replace("Job Id: ", "Job: ")
    assert [job.id for job in every_job(PbsProScheduler, answer)][:2] == [
        "127067.pbs06a.hsn.ath.nas.nasa.gov", "132609.pbs06a.hsn.ath.nas.nasa.gov"]


def test_qtoolkit_openpbs_listing_with_continuations_indented_by_four_spaces():
    answer = envelope("openpbs-qtoolkit-qstat-f-w-one-running.json").stdout
    (job,) = every_job(PbsProScheduler, answer)
    assert (job.id, job.name, job.state) == ("14", "myscript_1", RUNNING)
    attributes = attributes_of(answer, "14")
    assert (attributes["Resource_List.nodect"], attributes["Resource_List.ncpus"],
            attributes["Resource_List.walltime"], attributes["resources_used.walltime"]) \
        == ("1", "1", "01:00:00", "00:00:00")
    assert ("PBS_O_LOGNAME=testu,PBS_O_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
            "/sbin:/bin:/usr/games:" in attributes["Variable_List"])
    assert attributes["comment"] == "Job run at Sun Dec 29 at 20:13 on (f41a0fbae027:ncpus=1)"


def test_a_continuation_that_begins_with_a_space_keeps_it():
    # nasa/pbs4py's NASA LaRC K cluster job, as captures/elsewhere quotes it.
    answer = ("Job Id: 1.k\n    Job_Owner = u@k\n    job_state = Q\n"
              "    comment = Not Running: Queue K4-standard per-user limit reached on resource\n"
              "\t ncpus\n")
    assert attributes_of(answer, "1.k")["comment"].endswith("on resource ncpus")


def test_the_listing_keeps_the_cluster_users_own_jobs_only():
    scheduler = PbsProScheduler(profile(user="user3"))
    answer = Result(0, text("pbspro-aiida-6jobs.qstat-f.txt"), "")
    assert [job.id for job in scheduler.parse_list(answer)] == ["74164.mycluster",
                                                                "74165.mycluster"]


# -- PBS Professional and OpenPBS, JSON --------------------------------------------------

def test_firecrest_json_of_one_running_job():
    (job,) = every_job(PbsProScheduler,
                       envelope("openpbs-firecrest-qstat-F-json-f-x-one-running.json").stdout)
    assert job.id.split(".")[0] == "1" and job.state == RUNNING
    # FireCREST reports 0 for a job without Exit_status: running is not "exited 0".
    assert job.exit_code is None


def test_firecrest_json_history_of_two_finished_jobs_and_a_running_one():
    answer = envelope("openpbs-firecrest-qstat-F-json-f-x-allusers-2finished-1running.json")
    jobs = every_job(PbsProScheduler, answer.stdout)
    assert [job.owner for job in jobs] == ["fireuser", "fireuser", "firesrv"]
    assert [job.id for job in jobs if job.name == "hi_pbs"] == ["1006.pbs"]
    assert [job.owner for job in jobs if job.name == "hi_pbs"] == ["firesrv"]
    assert [job.name for job in jobs if job.name == "no such name"] == []
    finished = [job for job in jobs if job.state == ENDED]
    assert [(job.raw_state, job.exit_code) for job in finished] == [("F", 0), ("F", 0)]
    assert finished[0].ending == ("the batch script exited with status 0 (Exit_status 0) "
                                  "after 00:00:30")
    (running,) = [job for job in jobs if job.state == RUNNING]
    assert running.id == "1006.pbs" and running.exit_code is None
    # The nested objects read as the text form's names.
    attributes = dict(parse_json(answer.stdout))["1004.pbs"]
    assert attributes["Resource_List.select"] == "1:ncpus=1"
    assert attributes["resources_used.walltime"] == "00:00:30"


@pytest.mark.parametrize("name", ["openpbs-bawserver-qstat-F-json-connection-refused",
                                  "pbspro-bawserver-qstat-F-json-no-route-to-host"])
def test_json_printed_by_a_qstat_that_could_not_reach_its_server_is_a_failure(name):
    result = triple(name)
    assert parse_json(result.stdout) == []  # valid JSON, no job: not an empty queue
    with pytest.raises(TransientError, match="cannot connect to server"):
        PbsProScheduler(profile()).parse_list(result)


def test_invalid_json_is_unreadable_and_the_text_form_is_asked_next(monkeypatch):
    """openpbs/openpbs#1255: ``qsub -v foo=005`` makes ``"foo":005`` in Variable_List."""
    broken = envelope("openpbs-firecrest-qstat-F-json-f-x-one-running.json").stdout.replace(
        '"PBS_O_SYSTEM":"Linux",', '"PBS_O_SYSTEM":"Linux","foo":005,')
    scheduler = PbsProScheduler(profile(user="kejacob1"))
    with pytest.raises(UnreadableListing):
        scheduler.parse_list(Result(0, broken, ""))
    cluster = Cluster(profile(user="kejacob1"), "/tmp")
    answers = {True: Result(0, broken, ""),
               False: Result(0, text("pbspro-pbs4py-nas-athena-qstat-x-f-10jobs.txt"), "")}
    asked = []
    monkeypatch.setattr(cluster, "run", lambda command: asked.append(command)
                        or answers["-F json" in command])
    assert len(cluster.batch_jobs()) == 10
    assert ["-F json" in command for command in asked] == [True, False]
    asked.clear()
    cluster.batch_jobs()  # invalid JSON is about this answer: JSON is asked again
    assert ["-F json" in command for command in asked] == [True, False]


def test_a_pbs_without_json_is_asked_in_text_from_then_on(monkeypatch):
    """PBS Professional 12 refuses options it does not know (radical.saga#338)."""
    (refusal,) = [r for r in message_records(REAL / "pbspro-issues-error-messages.txt")
                  if "conflicting options" in r[3]]
    cluster = Cluster(profile(user="kejacob1"), "/tmp")
    asked = []
    monkeypatch.setattr(cluster, "run", lambda command: asked.append(command) or (
        Result(2, "", refusal[3]) if "-F json" in command else
        Result(0, text("pbspro-pbs4py-nas-athena-qstat-x-f-10jobs.txt"), "")))
    assert len(cluster.batch_jobs()) == 10 and len(cluster.batch_jobs()) == 10
    assert ["-F json" in command for command in asked] == [True, False, False]


def test_a_login_node_without_qselect_lists_every_users_jobs_and_keeps_its_own(
        monkeypatch):
    cluster = Cluster(profile(user="user3"), "/tmp")
    asked = []

    def run(command):
        asked.append(command)
        if "qselect" in command:
            return Result(127, "", "sh: 1: qselect: not found\n")
        return Result(0, text("pbspro-aiida-6jobs.qstat-f.txt"), "")
    monkeypatch.setattr(cluster, "run", run)
    assert [job.id for job in cluster.batch_jobs()] == ["74164.mycluster", "74165.mycluster"]
    assert [job.id for job in cluster.batch_jobs()] == ["74164.mycluster", "74165.mycluster"]
    assert ["qselect" in command for command in asked] == [True, True, False, False]


def test_repeated_jobs_keys_of_pbs_before_2018_are_merged():
    """openpbs/openpbs PR #585: ``qstat -fFjson`` with two ids repeated "Jobs"."""
    answer = envelope("openpbs-firecrest-qstat-F-json-f-x-allusers-2finished-1running.json")
    document = answer.stdout
    split_at = document.index('"1005.pbs"')
    repeated = document[:split_at].rstrip().rstrip(",") + '}, "Jobs": {' + document[split_at:]
    assert [job_id for job_id, _ in parse_json(repeated)] == ["1004.pbs", "1005.pbs",
                                                              "1006.pbs"]


def test_jobs_the_server_forgot_do_not_fail_a_listing_of_the_others():
    forgotten = [r for r in message_records(REAL / "pbspro-issues-error-messages.txt")
                 if "Job has finished, use -x" in r[3] or "Unknown Job Id 10000" in r[3]]
    assert len(forgotten) == 2
    scheduler = PbsProScheduler(profile(user="kejacob1"))
    nas = text("pbspro-pbs4py-nas-athena-qstat-x-f-10jobs.txt")
    for _, _, _, stderr in forgotten:
        assert len(scheduler.parse_list(Result(35, nas, stderr))) == 10
    with pytest.raises(TransientError):
        scheduler.parse_list(Result(183, nas, "qstat: Premature end of message 1.aqua"))


# -- Torque ------------------------------------------------------------------------------

def test_ichec_torque_listing_without_server_names_and_with_completed_jobs():
    answer = text("torque-aiida-ichec-10jobs.qstat-f.txt")
    jobs = every_job(TorqueScheduler, answer)
    assert len(jobs) == 10
    running = [job for job in jobs if job.state == RUNNING]
    assert [(job.id, job.owner) for job in running] == [("555716", "somebody"),
                                                        ("556491", "user_556491")]
    assert collections.Counter(job.raw_state for job in jobs) == {"R": 2, "H": 1, "Q": 5,
                                                                  "C": 2}
    completed = [job for job in jobs if job.state == ENDED]
    assert [job.exit_code for job in completed] == [271, 271]
    assert completed[0].ending.startswith("the batch job was killed by SIGTERM "
                                          "(exit_status 271) after ")
    assert attributes_of(answer, "549159")["Output_Path"] == \
        "host.domain:/some/path/to/sth/GLmore/down/the/path/ASSP-1R.o549159"


def test_dkfz_torque_listing_in_order_with_states_and_exit_status():
    jobs = every_job(TorqueScheduler, text("torque-batcheuphoria-dkfz-4jobs.qstat-f.txt"))
    assert [job.id.split(".")[0] for job in jobs] == ["14973441", "14973792", "14973766",
                                                      "14973745"]
    assert [job.raw_state for job in jobs] == ["C", "Q", "R", "H"]
    assert [job.state for job in jobs] == [ENDED, QUEUED, RUNNING, QUEUED]
    assert jobs[0].exit_code == 0
    assert jobs[0].ending.startswith("the batch script exited with status 0 (exit_status 0)")


def test_kuleuven_torque_listing_of_a_busy_site():
    answer = text("torque-vsc-kuleuven-121jobs.qstat-f.txt")
    listed = parse_text(answer)
    assert len(listed) == 121
    for number, job_id, state, walltime, nodect in [
            (1, "20025307.icts-p-svcs-1", "Q", "168:00:00", "20"),
            (50, "20034175.icts-p-svcs-1", "R", "72:00:00", "1"),
            (121, "20034531.icts-p-svcs-1", "Q", "02:00:00", "1")]:
        found_id, attributes = listed[number - 1]
        assert (found_id, attributes["job_state"], attributes["Resource_List.walltime"],
                attributes["Resource_List.nodect"]) == (job_id, state, walltime, nodect)
    jobs = every_job(TorqueScheduler, answer)
    assert collections.Counter(job.state for job in jobs) == {QUEUED: 65, RUNNING: 56}


def test_torque_negative_exit_statuses_are_not_pbs_professionals():
    """-11 is a walltime kill in Torque but a requeue in PBS Professional."""
    answer = ("Job Id: 7.server\n    Job_Name = rc-1-a1\n    Job_Owner = render@login\n"
              "    job_state = C\n    exit_status = -11\n")
    (torque,) = every_job(TorqueScheduler, answer)
    assert torque.ending == ("the batch job ran out of its walltime (JOB_EXEC_OVERLIMIT_WT) "
                             "(exit_status -11)")
    (pbspro,) = every_job(PbsProScheduler, answer.replace("C\n    exit_status", "F\n    Exit_status"))
    assert pbspro.ending == "the batch job was requeued to run again (JOB_EXEC_RERUN) (Exit_status -11)"


# -- qsub and qdel -----------------------------------------------------------------------

def test_qsub_answers_give_the_id_and_never_take_an_error_for_one():
    pbs = PbsProScheduler(profile())
    assert pbs.parse_submit(envelope("openpbs-qtoolkit-qsub-success.json").stdout) == "24"
    (ert,) = [r for r in message_records(REAL / "pbspro-issues-error-messages.txt")
              if r[2] == "1232635.pbs"]
    assert pbs.parse_submit(ert[2]) == "1232635.pbs"
    refused = envelope("openpbs-qtoolkit-qsub-unknown-queue.json")
    for output in (refused.stdout, refused.stderr, "qsub: Unknown queue\n24\n",
                   triple("pbspro-bawserver-qstat-F-json-no-route-to-host").stderr):
        with pytest.raises(ValueError):
            pbs.parse_submit(output)
    assert isinstance(failure(refused, "submitting"), PermanentError)


@pytest.mark.parametrize("name, ended_already", [
    ("openpbs-qtoolkit-qdel-job-has-finished", True),
    ("openpbs-qtoolkit-qdel-unknown-job-id", True),
    ("openpbs-qtoolkit-qdel-unauthorized", False),
    ("openpbs-qtoolkit-qdel-illegal-id", False),
    ("openpbs-qtoolkit-qdel-usage", False),
])
def test_qdel_of_a_job_that_ended_already_is_not_a_failure(name, ended_already):
    result = envelope(f"{name}.json")
    assert result.status != 0
    for scheduler in (PbsProScheduler, TorqueScheduler, PbsWrappersScheduler):
        assert scheduler(profile()).cancel_found_them_ended(result) is ended_already
    assert envelope("openpbs-qtoolkit-qdel-success.json").status == 0


def test_qdel_answers_recorded_on_a_production_pbs():
    records = message_records(REAL / "pbspro-issues-error-messages.txt")
    (finished,) = [r for r in records if r[0].startswith("cmd: qdel 484874")]
    (busy,) = [r for r in records if r[0].startswith("cmd: qdel 486044")]
    pbs = PbsProScheduler(profile())
    assert pbs.cancel_found_them_ended(Result(finished[1], "", finished[3]))
    assert not pbs.cancel_found_them_ended(Result(busy[1], "", busy[3]))
    assert isinstance(failure(Result(busy[1], "", busy[3]), "cancelling"), TransientError)


# -- Slurm -------------------------------------------------------------------------------

# GC3Pie's sacct --format, in sacct's own spelling (captures/real/README.md).
GC3PIE_FIELDS = ("JobID", "ExitCode", "State", "NCPUS", "Elapsed", "TotalCPU", "Submit",
                 "Start", "End", "MaxRSS", "MaxVMSize")


def gc3pie(name):
    (job,) = parse_rows(triple(f"slurm-gc3pie-sacct-parsable-{name}").stdout, GC3PIE_FIELDS)
    return job


@pytest.mark.parametrize("name, state, exit_code, ending", [
    ("completed", "COMPLETED", 0, "the batch job completed (COMPLETED) after 00:08:07"),
    ("completed-64cpus-cscs", "COMPLETED", 0,
     "the batch job completed (COMPLETED) after 00:00:23"),
    ("completed-10-steps-unige", "COMPLETED", 0,
     "the batch job completed (COMPLETED) after 00:07:29"),
    ("cancelled-by-user", "CANCELLED by 1000", 0,
     "the batch job was cancelled (CANCELLED by uid 1000) after 00:00:05"),
    ("timeout", "TIMEOUT", 0, "the batch job ran out of its walltime (TIMEOUT) after 00:01:11"),
    ("node-fail", "NODE_FAIL", 1, "the batch job lost a node that failed (NODE_FAIL) after "
                                  "01:21:47"),
    ("failed-exit-1", "FAILED", 1, "the batch script failed (FAILED, exit code 1) after "
                                   "00:00:01"),
])
def test_gc3pie_sacct_records_say_how_each_job_ended(name, state, exit_code, ending):
    job = gc3pie(name)
    assert (job.id, job.state, job.raw_state, job.exit_code, job.ending) == \
        ("123", ENDED, state, exit_code, ending)


def test_the_user_reads_how_the_batch_job_ended_and_what_its_launcher_said():
    """What follows "batch job N of attempt K ended: " in the job's events."""
    timeout = gc3pie("timeout")
    script = ScriptEnding(143, ("slurmstepd-n1: error: *** JOB 123 ON n1 CANCELLED AT "
                                "2014-12-11T17:11:34 DUE TO TIME LIMIT ***",))
    assert how_it_ended(timeout, script) == (
        "the batch job ran out of its walltime (TIMEOUT) after 00:01:11; the batch job's "
        "output says: slurmstepd-n1: error: *** JOB 123 ON n1 CANCELLED AT "
        "2014-12-11T17:11:34 DUE TO TIME LIMIT ***")
    # Accounting lagging behind: the exit file tells the end.
    assert how_it_ended(gc3pie("running-steps-completed"), ScriptEnding(0, ())) == \
        "the batch script ended with exit status 0"


def test_sacct_while_accounting_lags_says_the_job_still_runs():
    """GC3Pie: the allocation stays RUNNING until accounting settles, whatever its steps."""
    job = gc3pie("running-steps-completed")
    assert (job.state, job.ending) == (RUNNING, None)


def test_firecrest_sacct_parsable2_leaves_the_step_rows_out():
    recorded = envelope("slurm-firecrest-sacct-parsable2-by-name.json")
    command = (REAL / "slurm-firecrest-sacct-parsable2-by-name.json").read_text()
    fields = tuple(re.search(r"--format='([^']*)'", command).group(1).split(","))
    (job,) = parse_rows(recorded.stdout, fields)
    assert (job.id, job.name, job.state, job.exit_code) == ("12", "NameExists", ENDED, 0)
    assert job.ending == "the batch job completed (COMPLETED)"  # ElapsedRaw, not Elapsed


def test_sacct_without_accounting_knows_nothing():
    for result in (triple("slurm-gc3pie-sacct-accounting-disabled"),):
        assert result.status != 0 and "accounting storage is disabled" in result.stderr
        assert SlurmScheduler(profile()).parse_accounting(result) == []


@pytest.mark.parametrize("name, expected", [
    ("slurm-gc3pie-sbatch-invalid-account", PermanentError),
    ("slurm-gc3pie-scancel-invalid-job-id", PermanentError),
    ("slurm-gc3pie-squeue-invalid-job-id", PermanentError),
    ("slurm-gc3pie-scancel-permission-denied", None),  # exit 0: the words do not decide
])
def test_slurm_refusals_recorded_at_real_sites(name, expected):
    error = failure(triple(name), "running it")
    assert (type(error) if error else None) is expected


def test_a_qos_submit_limit_is_a_queue_limit_not_a_failure():
    error = failure(envelope("slurm-firecrest-sbatch-qos-submit-limit.json"), "submitting")
    assert isinstance(error, QueueLimitReached)
    assert "QOSMaxSubmitJobPerUserLimit" in str(error)


def test_sbatch_without_parsable_is_never_read_as_an_id():
    with pytest.raises(ValueError):
        SlurmScheduler(profile()).parse_submit(triple("slurm-gc3pie-sbatch-submitted").stdout)


# -- Error texts of PBS Professional and Torque sites ------------------------------------

PBS_MESSAGES = [
    ("rc: 171", TransientError),  # Invalid credential, under load
    ('stderr: "qsub: Premature', TransientError),  # unclear: looked up before a retry
    ("rc: 162", TransientError),  # cannot connect to server
    ("cmd: qdel 484874", PermanentError),  # finished: cancel_found_them_ended says so
    ("cmd: qdel 486044", TransientError),  # Request invalid for state of job (exiting)
    ("rc: 188", PermanentError),  # resource limits: the request is too big
    ("-q opm -l select=1", None),
    ("pbs_iff", TransientError),
    ("PBS_SERVER=localhost qstat   (PBS 2022", TransientError),
    ("PBS_SERVER=dummy", TransientError),
    ("PBS_SERVER=google.com", TransientError),
    ("(PBS 18.2.6)", TransientError),
    ("qstat -B", TransientError),
    ("pbsnodes -av", TransientError),
    ("rc: 183  stdout", TransientError),
    ("rc: 255  stdout", TransientError),
    ("(ALCF Aurora)", QueueLimitReached),
    ("(OpenPBS own test suite)", QueueLimitReached),
    ("qstat 1008", PermanentError),  # a listing reads it as news (only_forgotten_jobs)
    ("qstat 10000", PermanentError),
    ("stdout (only when asked", None),  # not an error record: no exit status, no stderr
    ("-f1 396357", PermanentError),  # an option this version refuses: the next form
]
TORQUE_MESSAGES = [
    ("Cannot connect to default server host", TransientError),
    ("Cannot connect to specified server host", TransientError),
    ("could not connect to trqauthd", TransientError),
    ("too busy to service", TransientError),
    ("rc: 173", TransientError),
    ("cannot write job command file", TransientError),  # the server's disk is full
]


@pytest.mark.parametrize("name, expected_by_words", [
    ("pbspro-issues-error-messages.txt", PBS_MESSAGES),
    ("torque-issues-error-messages.txt", TORQUE_MESSAGES),
])
def test_every_error_text_recorded_at_pbs_and_torque_sites_is_classified(name,
                                                                         expected_by_words):
    records = message_records(REAL / name)
    assert len(records) == len(expected_by_words)
    for words, expected in expected_by_words:
        (record,) = [r for r in records if words in r[0]]
        line, rc, stdout, stderr = record
        assumed = rc if rc is not None else (1 if stderr else 0)
        error = failure(Result(assumed, stdout, stderr), "running it")
        assert (type(error) if error else None) is expected, line


# -- Cray ALPS ---------------------------------------------------------------------------

def test_the_launcher_messages_pick_aprun_failures_out_of_its_output():
    """Debian's grep reads the pattern as the login node's grep does."""
    lines = [line for line in text("alps-docs-aprun-messages.txt").splitlines()
             if line and not line.lstrip().startswith("#")]
    quoted = [re.sub(r'^(?:aprun -n .*->\s+)?"?(.*?)"?$', r"\1", line) for line in lines]
    picked = subprocess.run(["grep", "-aE", "-e", LAUNCHER_MESSAGES],
                            input="\n".join(quoted) + "\n", capture_output=True,
                            text=True).stdout.splitlines()
    assert picked == [line for line in quoted if "resources: utime" not in line]
    assert "apsched: claim exceeds reservation's node-count" in picked
    assert "stdouterr: apsched: claim exceeds reservation's resources" in picked
    assert any("OOM killer terminated this process." in line for line in picked)
