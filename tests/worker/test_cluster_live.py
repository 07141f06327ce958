"""The transport, the scheduler adapters and the batch script on the real cluster."""
import socket
import threading
import time

import paramiko
import pytest

from raycrafter_worker import batch_script
from raycrafter_worker.batch_script import JobFiles
from raycrafter_worker.cluster import ScriptEnding
from raycrafter_worker.errors import PermanentError, SubmittingElsewhere, TransientError
from raycrafter_worker.schedulers import ENDED, RUNNING
from support.polling import wait_for

EVIL = "tea'pot\"; touch /tmp/rc-pwned-$$; `id` $(id) & | > <*?[] \\ \n end"


def job_files(cluster, job_id, attempt=1):
    """An attempt's files, with the job's directories made on the cluster."""
    files = JobFiles(cluster.profile.job_dir(job_id), attempt)
    cluster.make_dirs([files.job_dir, files.input_dir, files.frames_dir, files.logs_dir])
    return files


def submit(cluster, job_id, files, job_name, token="s3cret-token",
           credential="rclog1.s3cret-credential"):
    """Write the token, the log credential and the batch script and hand the attempt to
    the scheduler, as the worker does; returns the batch id."""
    return cluster.submit(files, attempt_name(cluster, job_id, files), token, credential,
                          script(cluster, job_id, job_name, files), "alice")


def script(cluster, job_id, job_name, files):
    return batch_script.render(cluster.profile, job_id, job_name, files,
                               cluster.scheduler.JOB_ID_VARIABLE)


def attempt_name(cluster, job_id, files):
    return cluster.profile.batch_name(f"rc-{job_id}-a{files.attempt}")


def batch_state(cluster, name):
    found = [j for j in cluster.batch_jobs() if j.name == name]
    return found[0] if found else None


@pytest.mark.parametrize("scheduler", ["slurm", "pbs-wrappers"])
def test_a_batch_job_runs_the_agent_with_its_token_in_a_private_file(
        make_cluster, fake_agent, login, scheduler):
    cluster = make_cluster(scheduler=scheduler)
    files = job_files(cluster, 7)
    batch_id = submit(cluster, 7, files, "teapot")
    assert batch_id.isdigit()
    wait_for(lambda: login(f"cat {files.exit_file}", check=False).stdout.strip() == "0",
             timeout=60, message="the batch job's exit file")
    assert login(f"cat {files.logs_dir}/agent-token-mode").stdout.strip() == "600"
    assert login(f"stat -c %a {files.token_file}").stdout.strip() == "600"
    args = login(f"cat {files.logs_dir}/agent-args").stdout.splitlines()
    assert args[args.index("--token-file") + 1] == files.token_file
    assert "s3cret-token" not in " ".join(args)
    assert args[args.index("--job-dir") + 1] == files.job_dir
    assert args[args.index("--job-id") + 1] == "7"
    assert args[args.index("--cluster") + 1] == cluster.profile.name
    env = login(f"cat {files.logs_dir}/agent-env").stdout
    assert "setup=1" in env and f"slurm={batch_id}" in env
    # The batch script names its batch job as the scheduler does.
    assert login(f"cat {files.started_file}").stdout == f"{batch_id}\n"
    assert batch_state(cluster, attempt_name(cluster, 7, files)).state == ENDED


def test_a_name_full_of_shell_metacharacters_reaches_the_job_verbatim(
        make_cluster, fake_agent, login):
    cluster = make_cluster()
    files = job_files(cluster, 8)
    submit(cluster, 8, files, EVIL)
    wait_for(lambda: login(f"test -f {files.exit_file}", check=False).returncode == 0,
             timeout=60, message="the batch job's exit file")
    assert login(f"cat {files.logs_dir}/agent-job-name").stdout == EVIL
    assert login("ls /tmp | grep -c rc-pwned", check=False).stdout.strip() == "0"
    assert login(f"cat {files.exit_file}").stdout.strip() == "0"


def test_poll_sees_queued_then_running_then_ended_in_one_listing(
        make_cluster, fake_agent, login, batch_prefix):
    cluster = make_cluster()
    fake_agent(4)
    # Fill both CPUs so the job has to wait in the queue first.
    blockers = [login(f"sbatch --parsable -J {batch_prefix}block -o /dev/null "
                      f"--wrap 'sleep 60'").stdout.strip() for _ in range(2)]
    files = job_files(cluster, 9)
    name = attempt_name(cluster, 9, files)
    submit(cluster, 9, files, "queued")
    wait_for(lambda: all(batch_state(cluster, f"{batch_prefix}block") and
                         j.state == RUNNING for j in cluster.batch_jobs()
                         if j.id in blockers), timeout=30, message="blockers running")
    assert batch_state(cluster, name).state == "queued"
    login("scancel " + " ".join(blockers))
    wait_for(lambda: batch_state(cluster, name).state == RUNNING, timeout=60,
             message="the job running")
    wait_for(lambda: batch_state(cluster, name).state == ENDED, timeout=60,
             message="the job ended")
    assert cluster.script_endings([(9, 1), (9, 2)]) == {(9, 1): ScriptEnding(0, ()),
                                                        (9, 2): ScriptEnding(None, ())}


def test_cancel_removes_the_batch_job(make_cluster, fake_agent):
    cluster = make_cluster(scheduler="pbs-wrappers")
    fake_agent(120)
    files = job_files(cluster, 10)
    name = attempt_name(cluster, 10, files)
    batch_id = submit(cluster, 10, files, "cancel me")
    wait_for(lambda: batch_state(cluster, name).active, timeout=30, message="job listed")
    cluster.cancel([batch_id])
    wait_for(lambda: not batch_state(cluster, name).active, timeout=30,
             message="the job gone from the active queue")
    assert batch_state(cluster, name).raw_state in ("C", "CANCELLED")


def test_an_invalid_partition_fails_at_once_with_the_schedulers_reason(make_cluster,
                                                                       fake_agent):
    cluster = make_cluster(queue="no-such-partition")
    files = job_files(cluster, 11)
    started = time.monotonic()
    with pytest.raises(PermanentError, match="Invalid partition"):
        submit(cluster, 11, files, "x")
    assert time.monotonic() - started < 10


def test_permission_denied_on_scratch_is_permanent(make_cluster):
    cluster = make_cluster(scratch="/root/scratch")
    with pytest.raises(PermanentError, match="Permission denied"):
        cluster.make_dirs([cluster.profile.job_dir(1)])


def test_the_connection_is_reused_across_commands(make_cluster):
    cluster = make_cluster()
    assert cluster.run("echo one").stdout == "one\n"
    first = cluster.transport._client
    assert cluster.run("echo two").stdout == "two\n"
    assert cluster.transport._client is first


def test_commands_go_out_without_waiting_for_the_login_nodes_acknowledgement(make_cluster):
    """Nagle's algorithm is off on the connection: with it, each command's small packets
    would wait for the login node's delayed ACK."""
    cluster = make_cluster()
    cluster.run("true")
    sock = cluster.transport._client.get_transport().sock
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_a_login_node_out_of_sessions_is_waited_for_on_the_same_connection(make_cluster):
    """sshd refuses a session past its MaxSessions (10): a command waits until one is
    free, and neither it nor the command running beside it loses the connection."""
    cluster = make_cluster()
    results = {}

    def run(key, command):
        results[key] = cluster.run(command).stdout
    beside = threading.Thread(target=run, args=("beside", "sleep 2; echo beside"))
    beside.start()
    wait_for(lambda: cluster.transport._client, message="the connection")
    first = cluster.transport._client
    held = []
    while len(held) < 20:
        try:
            held.append(first.get_transport().open_session())
        except paramiko.SSHException:
            break
    assert 0 < len(held) < 20
    waiting = threading.Thread(target=run, args=("waited", "echo waited"))
    waiting.start()
    waiting.join(1.0)
    assert waiting.is_alive()
    held.pop().close()
    waiting.join(30)
    beside.join(30)
    for channel in held:
        channel.close()
    assert results == {"waited": "waited\n", "beside": "beside\n"}
    assert cluster.transport._client is first


def test_a_command_cut_off_with_its_connection_ends_at_once_as_transient(
        make_cluster, own_login_node):
    sshd = own_login_node().start()
    cluster = make_cluster(port=sshd.port, known_hosts_file=sshd.known_hosts,
                           command_timeout_seconds=60)
    failures = []

    def run():
        try:
            cluster.run("sleep 50")
        except TransientError as error:
            failures.append(error)
    running = threading.Thread(target=run)
    running.start()
    time.sleep(1)
    started = time.monotonic()
    sshd.stop()
    running.join(30)
    assert time.monotonic() - started < 10
    assert "SSH connection lost" in str(failures[0])


def test_a_command_past_its_deadline_is_transient(make_cluster):
    cluster = make_cluster(command_timeout_seconds=1)
    started = time.monotonic()
    with pytest.raises(TransientError, match="did not finish"):
        cluster.run("sleep 20")
    assert time.monotonic() - started < 5
    assert cluster.run("echo still usable").stdout == "still usable\n"


def test_a_wrong_host_key_is_refused(make_cluster, ssh_files):
    cluster = make_cluster(known_hosts_file=ssh_files["wrong_known_hosts"])
    with pytest.raises(PermanentError, match="does not match the pinned key"):
        cluster.run("true")


def test_an_unpinned_host_is_refused(make_cluster, ssh_files, tmp_path):
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    cluster = make_cluster(known_hosts_file=str(empty))
    with pytest.raises(PermanentError, match="not pinned"):
        cluster.run("true")


def test_the_submission_writes_token_and_script_from_stdin_in_private_files(
        make_cluster, fake_agent, login):
    cluster = make_cluster()
    files = job_files(cluster, 13)
    token = "tok-$(touch pwned) 'q\" `id` \\ end"
    credential = "cred-$(touch pwned) 'q\" `id` \\ end"
    submit(cluster, 13, files, "private", token=token, credential=credential)
    assert login(f"cat {files.token_file}").stdout == token
    assert login(f"cat {files.log_credential_file}").stdout == credential
    assert login(f"cat {files.script}").stdout == script(cluster, 13, "private", files)
    assert login(f"stat -c %a {files.token_file} {files.log_credential_file} "
                 f"{files.script}").stdout.split() == ["600"] * 3
    assert "pwned" not in login(f"ls -A {files.job_dir} {files.logs_dir} ~").stdout
    assert ".tmp" not in login(f"ls -A {files.job_dir} {files.logs_dir}").stdout


def test_files_that_cannot_be_written_stop_the_submission_before_the_scheduler(
        make_cluster, fake_agent, login):
    cluster = make_cluster()
    files = job_files(cluster, 14)
    login(f"chmod 0500 {files.logs_dir}")
    with pytest.raises(PermanentError, match="Permission denied"):
        submit(cluster, 14, files, "read-only logs")
    name = attempt_name(cluster, 14, files)
    assert cluster.submission_outcome(files, name) == ("absent", None)
    assert batch_state(cluster, name) is None
    login(f"chmod 0700 {files.logs_dir}")


@pytest.mark.parametrize("scheduler", ["slurm", "pbs-wrappers"])
def test_cancelling_a_batch_job_that_just_ended_is_not_a_failure(make_cluster, fake_agent,
                                                                 login, scheduler):
    """qdel of a finished job exits 1 without a word; the job was ended all the same."""
    cluster = make_cluster(scheduler=scheduler)
    files = job_files(cluster, 9)
    batch_id = submit(cluster, 9, files, "ended")
    wait_for(lambda: login(f"test -f {files.exit_file}", check=False).returncode == 0,
             timeout=60, message="the batch job's exit file")
    wait_for(lambda: not [b for b in cluster.batch_jobs() if b.id == batch_id and b.active],
             timeout=60, message="the batch job out of the queue")
    cluster.cancel([batch_id])


def test_an_attempt_reaches_the_scheduler_once_whoever_submits_it(make_cluster, fake_agent,
                                                                 login):
    """Four submitters of one attempt at the same moment (workers with duplicate commands,
    each with an agent token of its own): the marker lets exactly one hand it to Slurm, the
    others learn it is taken, and the token file holds one whole token."""
    cluster = make_cluster()
    files = job_files(cluster, 12)
    name = attempt_name(cluster, 12, files)
    tokens = [f"token-of-submitter-{n}-" + "x" * 4000 for n in range(4)]
    outcomes = []

    def submit_with(token):
        try:
            outcomes.append(submit(cluster, 12, files, "once", token=token))
        except SubmittingElsewhere:
            outcomes.append("elsewhere")
    threads = [threading.Thread(target=submit_with, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [o for o in outcomes if o != "elsewhere"]
    assert len(ids) == 1 and outcomes.count("elsewhere") == 3
    assert [j.id for j in cluster.batch_jobs() if j.name == name] == ids
    assert cluster.submission_outcome(files, name) == ("done", ids[0])
    assert login(f"cat {files.token_file}").stdout in tokens
