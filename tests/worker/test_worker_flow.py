"""The whole worker: commands from RabbitMQ, the real API, the real cluster."""
import base64
import hashlib
import json
import secrets
import shlex
import socket

import pytest
import requests
from raycrafter_contract.messaging import QUEUE

from support.api_server import ApiServer, create_user, ensure_worker_token, write_config
from support.api_testing import SCENE, tar_gz
from support.postgres import free_port
from support.metrics_scrape import scrape
from support.polling import wait_for
from support.rabbitmq import ThrowawayRabbitMQ
from support.worker_harness import (HoldingProxy, WorkerProcess, prepare_queue, publish,
                                    write_worker_config)

CLUSTER = "stand-in"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"frame body " * 50


@pytest.fixture(scope="session")
def broker():
    node = ThrowawayRabbitMQ().start()
    password = secrets.token_hex(12)
    # The worker may configure and read the exchange and its queue, and write the queue.
    names = r"^(raycrafter\.commands|worker\.commands)$"
    node.add_user("worker", password, configure=names, write=r"^worker\.commands$", read=names)
    node.worker_url = node.url("worker", password)
    yield node
    node.destroy()


@pytest.fixture
def api(tmp_path, request):
    """The API on SQLite, without its relay: no command of its own reaches the worker. A
    test may set its ``max_submissions`` (2) with ``indirect`` parametrisation."""
    metrics = f"127.0.0.1:{free_port()}"
    config = write_config(tmp_path / "api.toml", database_url=f"sqlite:///{tmp_path}/api.db",
                          data_dir=str(tmp_path / "api-data"), clusters=[CLUSTER],
                          default_cluster=CLUSTER,
                          max_submissions=getattr(request, "param", 2), metrics_listen=metrics)
    with ApiServer(config) as server:
        server.config = config
        server.metrics_url = f"http://{metrics}/metrics"
        server.worker_token = ensure_worker_token(config)
        server.token_file = str(tmp_path / "worker.token")
        user = requests.Session()
        user.headers["Authorization"] = f"Bearer {create_user(config, 'alice')}"
        server.user = user
        yield server


@pytest.fixture
def start_worker(tmp_path, api, broker, profile_values, fake_agent):
    """Start the worker with this test's profile; ``api_url`` may point at a proxy."""
    prepare_queue(broker.admin_url)
    workers = []

    def start(api_url=None, settings=None, environment=None, **profile_overrides):
        config = write_worker_config(
            tmp_path / "worker.toml",
            {"api_url": api_url or api.base, "api_token_file": api.token_file,
             "amqp_url": broker.worker_url, "poll_interval_seconds": 1, "prefetch": 2,
             "lost_grace_seconds": 5, "retry_limit_seconds": 120, **(settings or {})},
            {CLUSTER: {**profile_values, **profile_overrides}})
        worker = WorkerProcess(config, str(tmp_path / f"worker-{len(workers)}.log"),
                               environment).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def create_job(api, name="teapot", frames="1-2"):
    response = api.user.post(f"{api.url}/jobs", files={"scene": ("scene.pov", SCENE)},
                             data={"name": name, "frames": frames, "width": "32",
                                   "height": "24"})
    assert response.status_code == 201, response.text
    return response.json()


def job_of(api, job_id):
    return api.user.get(f"{api.url}/jobs/{job_id}").json()


def worker_view(api, job_id):
    return requests.get(f"{api.url}/worker/jobs/{job_id}",
                        headers={"Authorization": f"Bearer {api.worker_token}"}).json()


def transitions(api, job_id):
    events = api.user.get(f"{api.url}/jobs/{job_id}/events").json()["events"]
    return [(e["from"], e["to"]) for e in events if e["frame"] is None]


def batch_jobs(login, prefix):
    listing = login("squeue --noheader --states=all --me --format='%i|%j|%T'").stdout
    return [line.split("|") for line in listing.splitlines()
            if line.split("|")[1].startswith(prefix)]


def in_state(api, job_id, *states):
    return job_of(api, job_id)["state"] in states


@pytest.mark.parametrize("scheduler", ["slurm", "pbs-wrappers"])
def test_submit_runs_a_batch_job_and_poll_follows_it_to_the_end(
        api, broker, start_worker, login, fake_agent, batch_prefix, test_scratch, scheduler):
    worker = start_worker(scheduler=scheduler)
    fake_agent(4)
    job = create_job(api)
    publish(broker.admin_url, "submit", job["id"], CLUSTER)
    wait_for(lambda: in_state(api, job["id"], "submitted", "running"), timeout=60,
             message="the job submitted")
    view = worker_view(api, job["id"])
    (batch,) = batch_jobs(login, batch_prefix)
    assert batch[0] == view["batch_job_id"] and batch[1] == batch_prefix + "rc-1-a1"
    scene = f"{test_scratch}/raycrafter/{job['id']}/input/scene.pov"
    assert login(f"sha256sum < {scene}").stdout.split()[0] == hashlib.sha256(SCENE).hexdigest()
    # The stand-in agent renders nothing, so the ended batch job sends the job back.
    wait_for(lambda: ("running", "staging") in transitions(api, job["id"]), timeout=90,
             message="the job running, then back to staging")
    assert transitions(api, job["id"])[:4] == [
        (None, "pending"), ("pending", "staging"), ("staging", "submitted"),
        ("submitted", "running")]
    events = api.user.get(f"{api.url}/jobs/{job['id']}/events").json()["events"]
    ended = next(e["reason"] for e in reversed(events) if e["to"] == "staging")
    how = {"slurm": "the batch job completed (COMPLETED)",
           "pbs-wrappers": "the batch job finished (job_state C)"}[scheduler]
    assert f"batch job {view['batch_job_id']} of attempt 1 ended: {how}" in ended
    assert "exit status 0" in ended
    assert worker.process.poll() is None


def test_an_archived_scene_arrives_unpacked_with_its_assets(
        api, broker, start_worker, login, fake_agent, test_scratch):
    start_worker()
    fake_agent(4)
    files = {"scene.pov": b'#include "inc/props.inc"\n' + SCENE,
             "inc/props.inc": b"#declare Answer = 42;\n"}
    response = api.user.post(f"{api.url}/jobs",
                             files={"scene": ("scene.tar.gz", tar_gz(files.items()))},
                             data={"name": "with assets", "frames": "1", "width": "32",
                                   "height": "24"})
    assert response.status_code == 201, response.text
    job = response.json()
    publish(broker.admin_url, "submit", job["id"], CLUSTER)
    wait_for(lambda: in_state(api, job["id"], "submitted", "running", "staging")
             and worker_view(api, job["id"]).get("batch_job_id"), timeout=60,
             message="the job submitted")
    input_dir = f"{test_scratch}/raycrafter/{job['id']}/input"
    for name, data in files.items():
        remote = login(f"sha256sum < {shlex.quote(input_dir + '/' + name)}").stdout.split()
        assert remote and remote[0] == hashlib.sha256(data).hexdigest(), name


def test_cancel_removes_the_batch_job(api, broker, start_worker, login, fake_agent,
                                      batch_prefix):
    start_worker()
    fake_agent(300)
    job = create_job(api)
    publish(broker.admin_url, "submit", job["id"], CLUSTER)
    wait_for(lambda: in_state(api, job["id"], "running"), timeout=60, message="running")
    assert api.user.post(f"{api.url}/jobs/{job['id']}/cancel").status_code == 200
    publish(broker.admin_url, "cancel", job["id"], CLUSTER)
    wait_for(lambda: [b[2] for b in batch_jobs(login, batch_prefix)] == ["CANCELLED"],
             timeout=60, message="the batch job cancelled")


def test_a_worker_killed_right_after_sbatch_makes_exactly_one_batch_job(
        api, broker, start_worker, login, fake_agent, batch_prefix):
    proxy = HoldingProxy(api.base)
    proxy.hold = lambda method, path, body: (path.endswith("/transition") and body
                                             and json.loads(body).get("to") == "submitted")
    try:
        first = start_worker(api_url=proxy.url)
        fake_agent(60)
        job = create_job(api)
        publish(broker.admin_url, "submit", job["id"], CLUSTER)
        assert proxy.held.wait(60), first.log()
        first.kill()  # the scheduler accepted the job; the API never heard of it
        assert len(batch_jobs(login, batch_prefix)) == 1
        assert job_of(api, job["id"])["state"] == "staging"
        proxy.hold = None
        proxy.release.set()
        second = start_worker(api_url=proxy.url)
        wait_for(lambda: in_state(api, job["id"], "submitted", "running"), timeout=60,
                 message="the restarted worker adopting the batch job")
        (batch,) = batch_jobs(login, batch_prefix)
        assert worker_view(api, job["id"])["batch_job_id"] == batch[0]
        assert worker_view(api, job["id"])["submit_attempt"] == 1
        assert f"adopted batch job {batch[0]}" in second.log()
    finally:
        proxy.close()


def test_ssh_down_is_retried_and_the_worker_recovers(
        api, broker, start_worker, login, fake_agent, batch_prefix, own_login_node):
    sshd = own_login_node()
    try:
        worker = start_worker(port=sshd.port, known_hosts_file=sshd.known_hosts,
                              transfer="sftp")
        fake_agent(30)
        job = create_job(api)
        publish(broker.admin_url, "submit", job["id"], CLUSTER)
        wait_for(lambda: worker.log().count("retrying in") >= 2, timeout=60,
                 message="the worker retrying while sshd is down")
        assert job_of(api, job["id"])["state"] == "staging"
        assert batch_jobs(login, batch_prefix) == []
        sshd.start()
        wait_for(lambda: in_state(api, job["id"], "submitted", "running"), timeout=90,
                 message="the job submitted once sshd is back")
        assert len(batch_jobs(login, batch_prefix)) == 1
        sshd.stop()  # down again while the job runs: polling backs off, then recovers
        wait_for(lambda: "polling cluster stand-in failed" in worker.log(), timeout=30,
                 message="a failed poll")
        sshd.start()
        wait_for(lambda: ("submitted", "running") in transitions(api, job["id"]),
                 timeout=120, message="polling to recover and report the job running")
    finally:
        sshd.stop()


# Runs each session's command as asked, and records it first (NUL-separated).
RECORDING_SESSION = """#!/bin/bash
printf '%s\\0' "$SSH_ORIGINAL_COMMAND" >> LOG
exec /bin/bash -c "$SSH_ORIGINAL_COMMAND"
"""


def test_a_first_submission_is_three_commands_and_an_sftp_session_on_the_login_node(
        api, broker, start_worker, login, fake_agent, test_scratch, own_login_node):
    """No listing of the queue for a job without a recorded attempt (it has no batch job),
    no globus-url-copy for a small scene, and the agent token, the batch script and the
    submission in one command."""
    record, session = f"{test_scratch}/commands", f"{test_scratch}/session"
    login(f"cat > {session} <<'SCRIPT'\n{RECORDING_SESSION.replace('LOG', record)}SCRIPT\n"
          f"chmod 0755 {session}")
    sshd = own_login_node(force_command=session).start()
    start_worker(port=sshd.port, known_hosts_file=sshd.known_hosts)
    job = create_job(api)
    publish(broker.admin_url, "submit", job["id"], CLUSTER)
    wait_for(lambda: in_state(api, job["id"], "submitted", "running"), timeout=60,
             message="the job submitted")
    commands = login(f"cat {record}").stdout.split("\0")
    submission = next(n for n, command in enumerate(commands) if "sbatch" in command)
    kinds = {"mkdir -p": "directories", "sftp-server": "sftp", "sha256sum": "checksums",
             "sbatch": "submission"}
    assert [next((kind for word, kind in kinds.items() if word in command), command)
            for command in commands[:submission + 1]] == [
        "directories", "sftp", "checksums", "submission"]


def test_collect_stages_frames_out_and_uploads_them(api, broker, start_worker, login,
                                                   fake_agent, test_scratch):
    start_worker()
    fake_agent(300)
    job = create_job(api, frames="1-3")
    publish(broker.admin_url, "submit", job["id"], CLUSTER)
    wait_for(lambda: in_state(api, job["id"], "running"), timeout=60, message="running")
    render_as_the_agent(api, login, test_scratch, job["id"], 3, render_seconds=0.1)
    assert job_of(api, job["id"])["state"] == "collecting"
    publish(broker.admin_url, "collect", job["id"], CLUSTER)
    wait_for(lambda: in_state(api, job["id"], "done"), timeout=60, message="done")
    for n in (1, 2, 3):
        got = api.user.get(f"{api.url}/jobs/{job['id']}/frames/{n}")
        assert got.status_code == 200 and got.content == PNG + str(n).encode()


def test_a_24_frame_job_moves_the_api_and_worker_series_by_what_it_did(
        api, broker, start_worker, login, fake_agent, test_scratch, tmp_path):
    worker_metrics = f"127.0.0.1:{free_port()}"
    start_worker(settings={"metrics_listen": worker_metrics},
                 environment={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "worker-metrics")})
    worker_url = f"http://{worker_metrics}/metrics"
    api_before, worker_before = scrape(api.metrics_url), scrape(worker_url)
    fake_agent(300)
    job = create_job(api, frames="1-24")
    publish(broker.admin_url, "submit", job["id"], CLUSTER)
    wait_for(lambda: in_state(api, job["id"], "running"), timeout=60, message="running")
    # The poll lists the batch job running.
    wait_for(lambda: scrape(worker_url).value("raycrafter_worker_batch_jobs", cluster=CLUSTER,
                                              state="running") == 1,
             timeout=30, message="the batch job counted running")
    render_as_the_agent(api, login, test_scratch, job["id"], 24, render_seconds=2.0)
    publish(broker.admin_url, "collect", job["id"], CLUSTER)
    wait_for(lambda: in_state(api, job["id"], "done"), timeout=120, message="done")
    api_after, worker_after = scrape(api.metrics_url), scrape(worker_url)

    def moved(before, after, name, **labels):
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved(api_before, api_after, "raycrafter_frames_completed_total") == 24
    assert moved(api_before, api_after, "raycrafter_frame_render_seconds_count") == 24
    assert moved(api_before, api_after, "raycrafter_frame_render_seconds_sum") == 48
    assert moved(api_before, api_after, "raycrafter_submissions_total") == 1
    assert api_after.value("raycrafter_jobs", state="done") == 1
    assert moved(worker_before, worker_after, "raycrafter_worker_submissions_total",
                 cluster=CLUSTER) == 1
    assert moved(worker_before, worker_after, "raycrafter_worker_submissions_refused_total",
                 cluster=CLUSTER) == 0
    # The scene in, the 24 frames out (they may come in several batches while it runs).
    assert moved(worker_before, worker_after, "raycrafter_worker_stage_bytes_total",
                 cluster=CLUSTER, direction="in") >= len(SCENE)
    assert moved(worker_before, worker_after, "raycrafter_worker_stage_bytes_total",
                 cluster=CLUSTER, direction="out") >= sum(
        len(PNG + str(n).encode()) for n in range(1, 25))
    assert moved(worker_before, worker_after, "raycrafter_worker_stage_duration_seconds_count",
                 cluster=CLUSTER, direction="in") >= 1
    assert moved(worker_before, worker_after,
                 "raycrafter_worker_ssh_command_duration_seconds_count", cluster=CLUSTER) >= 3
    assert worker_after.value("raycrafter_worker_ssh_command_failures_total",
                              cluster=CLUSTER) == 0


def render_as_the_agent(api, login, test_scratch, job_id, frames, render_seconds):
    """Play the node agent for ``frames`` frames: claim, put a PNG on scratch, complete."""
    job_dir = f"{test_scratch}/raycrafter/{job_id}"
    token = login(f"cat {job_dir}/agent.token").stdout.strip()
    agent = requests.Session()
    agent.headers["Authorization"] = f"Bearer {token}"
    for _ in range(frames):
        claim = agent.post(f"{api.url}/agent/jobs/{job_id}/claim",
                           json={"holder": "test"}).json()
        image = PNG + str(claim["frame"]).encode()
        _put(login, f"{job_dir}/frames/frame_{claim['frame']:05d}.png", image)
        response = agent.post(
            f"{api.url}/agent/jobs/{job_id}/frames/{claim['frame']}/complete",
            json={"lease_id": claim["lease"]["id"], "render_seconds": render_seconds,
                  "checksum": hashlib.sha256(image).hexdigest(), "size": len(image),
                  "log_tail": "ok"})
        assert response.status_code == 200, response.text


def _put(login, path, data):
    encoded = base64.b64encode(data).decode()
    login(f"printf %s {shlex.quote(encoded)} | base64 -d > {shlex.quote(path)}")


def test_sigterm_hands_the_current_message_back(api, broker, start_worker, tmp_path):
    with socket.socket() as s:  # a port nobody listens on: every SSH attempt is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    worker = start_worker(port=port)
    job = create_job(api)
    publish(broker.admin_url, "submit", job["id"], CLUSTER)
    wait_for(lambda: "retrying in" in worker.log(), timeout=30, message="a retry")
    assert worker.stop(timeout=30) == 0
    assert "handed back" in worker.log() and "worker stopped" in worker.log()
    assert _ready_messages(broker) == 1


def _ready_messages(broker):
    import pika
    connection = pika.BlockingConnection(pika.URLParameters(broker.admin_url))
    try:
        return connection.channel().queue_declare(QUEUE, durable=True,
                                                  passive=True).method.message_count
    finally:
        connection.close()


def test_an_attempt_whose_marker_holds_an_answer_is_not_submitted_again(
        api, broker, start_worker, login, fake_agent, batch_prefix, test_scratch):
    """Another worker (or a try whose SSH answer was lost) already handed attempt 1 to the
    scheduler and its marker holds the batch id: the worker adopts it, submits nothing."""
    job = create_job(api)
    marker = f"{test_scratch}/raycrafter/{job['id']}/logs/batch-1.submitted"
    login(f"mkdir -p {marker} && echo 0 > {marker}/status && echo 424242 > {marker}/output")
    start_worker()
    publish(broker.admin_url, "submit", job["id"], CLUSTER)
    wait_for(lambda: worker_view(api, job["id"]).get("batch_job_id") == "424242", timeout=60,
             message="the recorded batch id adopted")
    assert worker_view(api, job["id"])["submit_attempt"] == 1
    assert batch_jobs(login, batch_prefix) == []


# Holds every listing of the queue until the test opens the gate (GATE.open), saying that
# one waits (GATE.waiting): a worker stopped between reading a job and listing its queue.
GATED_SESSION = """#!/bin/bash
case "$SSH_ORIGINAL_COMMAND" in
    squeue*) touch GATE.waiting; while [ ! -e GATE.open ]; do sleep 0.1; done ;;
esac
exec /bin/bash -c "$SSH_ORIGINAL_COMMAND"
"""


def test_a_worker_never_cancels_the_batch_job_of_a_newer_attempt(
        api, broker, start_worker, login, fake_agent, batch_prefix, test_scratch,
        own_login_node):
    """Two workers hold a submit command each of a job whose attempt 1 ended: the first
    read the job at attempt 1 and lists the queue only after the second has recorded and
    submitted attempt 2. The first must leave attempt 2's batch job alone."""
    fake_agent(300)
    job = create_job(api)
    worker_api = requests.Session()
    worker_api.headers["Authorization"] = f"Bearer {api.worker_token}"
    as_worker = f"{api.url}/worker/jobs/{job['id']}"
    for path, body in (("/transition", {"to": "staging"}), ("/submissions", {}),
                       ("/transition", {"to": "submitted", "batch_job_id": "999999"}),
                       ("/batch-ended", {"attempt": 1, "reason": "in state NODE_FAIL"})):
        assert worker_api.post(as_worker + path, json=body).ok
    assert (worker_view(api, job["id"])["state"], worker_view(api, job["id"])[
        "submit_attempt"]) == ("staging", 1)

    gate, session = f"{test_scratch}/gate", f"{test_scratch}/session"
    login(f"cat > {session} <<'SCRIPT'\n{GATED_SESSION.replace('GATE', gate)}SCRIPT\n"
          f"chmod 0755 {session}")
    sshd = own_login_node(force_command=session).start()
    first = start_worker(port=sshd.port, known_hosts_file=sshd.known_hosts,
                         settings={"prefetch": 1})
    publish(broker.admin_url, "submit", job["id"], CLUSTER)
    wait_for(lambda: login(f"test -e {gate}.waiting", check=False).returncode == 0,
             timeout=60, message="the first worker listing the queue")

    start_worker()
    publish(broker.admin_url, "submit", job["id"], CLUSTER)
    wait_for(lambda: worker_view(api, job["id"])["submit_attempt"] == 2
             and in_state(api, job["id"], "submitted", "running"), timeout=90,
             message="the second worker submitting attempt 2")
    (newer,) = [b for b in batch_jobs(login, batch_prefix)
                if b[1] == f"{batch_prefix}rc-{job['id']}-a2"]

    login(f"touch {gate}.open")
    wait_for(lambda: "left alone" in first.log() or "moved on" in first.log(), timeout=60,
             message="the first worker done with its command")
    assert [b for b in batch_jobs(login, batch_prefix) if b[0] == newer[0]][0][2] in (
        "PENDING", "RUNNING"), first.log()
    assert worker_view(api, job["id"])["batch_job_id"] == newer[0]
    assert f"batch job {newer[0]} ({newer[1]}) of a newer attempt than 1" in first.log()
