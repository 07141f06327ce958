"""The API's Prometheus metrics: a job's frames move the series by what happened, several
API processes sum into one scrape on their shared metrics address, and what the database
knows (jobs by state, the outbox) is read from it whichever process answers."""
import datetime
import subprocess
import sys

import pytest

from raycrafter_api import timeutil
from raycrafter_api.database import db
from raycrafter_api.database.models import Frame, Job
from raycrafter_api.metrics import series
from support.api_server import ApiServer, write_config
from support.api_testing import PNG, Client, World, sha256
from support.postgres import free_port
from support.metrics_scrape import scrape
from support.polling import wait_for

FRAMES = 24
RENDER_SECONDS = 1.5


def counted(name, **labels):
    """A series of this process's registry (the API served in a thread of the tests)."""
    return series.REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_failed_attempt_and_an_expired_lease_are_counted_once(world, api):
    job_id = world.job_x["id"]
    failed, expired = (counted("raycrafter_frames_failed_total"),
                       counted("raycrafter_leases_expired_total"))
    claim = world.claim(world.agent_x, job_id)
    response = world.agent_x.post(f"/agent/jobs/{job_id}/frames/{claim['frame']}/fail",
                                  json={"lease_id": claim["lease"]["id"], "reason": "parse"})
    assert response.status_code == 200, response.text
    again = world.agent_x.post(f"/agent/jobs/{job_id}/frames/{claim['frame']}/fail",
                               json={"lease_id": claim["lease"]["id"], "reason": "parse"})
    assert again.status_code == 409  # a stale lease: refused, not counted
    assert counted("raycrafter_frames_failed_total") == failed + 1
    world.claim(world.agent_x, job_id)
    with db.connection():
        Frame.update(lease_expires_at=timeutil.now() - datetime.timedelta(seconds=600)).where(
            Frame.job == job_id, Frame.state == "leased").execute()
    world.claim(world.agent_x, job_id)  # finds the overdue lease first
    assert counted("raycrafter_leases_expired_total") == expired + 1


def test_a_retried_complete_is_counted_once(world):
    job_id = world.job_x["id"]
    done = counted("raycrafter_frames_completed_total")
    claim = world.claim(world.agent_x, job_id)
    assert world.complete(world.agent_x, job_id, claim).status_code == 200
    assert world.complete(world.agent_x, job_id, claim).status_code == 200
    assert counted("raycrafter_frames_completed_total") == done + 1


def test_a_report_of_several_frames_counts_each_once(world):
    job_id = world.create_job(world.alice, frames="1-3")["id"]
    agent = world.api.client(world.submit(job_id))
    claim = world.claim(agent, job_id, max_frames=3)
    assert len(claim["frames"]) == 1  # nothing rendered yet: the first chunk is one frame
    first = {"lease_id": claim["lease"]["id"], "done": [
        {"frame": claim["frame"], "render_seconds": 4.0, "checksum": sha256(PNG),
         "size": len(PNG)}]}
    assert agent.post(f"/agent/jobs/{job_id}/reports", json=first).status_code == 200
    chunk = world.claim(agent, job_id, max_frames=3)
    report = {"lease_id": chunk["lease"]["id"], "done": [
        {"frame": number, "render_seconds": 4.0, "checksum": sha256(PNG), "size": len(PNG)}
        for number in chunk["frames"]]}
    done, rendered = (counted("raycrafter_frames_completed_total"),
                      counted("raycrafter_frame_render_seconds_count"))
    assert agent.post(f"/agent/jobs/{job_id}/reports", json=report).status_code == 200
    assert agent.post(f"/agent/jobs/{job_id}/reports", json=report).status_code == 200
    assert counted("raycrafter_frames_completed_total") == done + len(chunk["frames"]) == done + 2
    assert counted("raycrafter_frame_render_seconds_count") == rendered + 2


@pytest.fixture
def api_processes(tmp_path, database_url):
    """Two API processes sharing a multiprocess directory and one metrics address, as
    Supervisor runs them; ``start()`` and ``stop()`` each in turn."""
    metrics = f"127.0.0.1:{free_port()}"
    config = write_config(tmp_path / "api.toml", database_url=database_url,
                          data_dir=str(tmp_path / "data"), clusters=["default"],
                          metrics_listen=metrics)
    directory = tmp_path / "metrics"
    servers = [ApiServer(config, threads=4,
                         environment={"PROMETHEUS_MULTIPROC_DIR": str(directory)})
               for _ in range(2)]
    for server in servers:
        server.start()
    yield servers, f"http://{metrics}/metrics", directory
    for server in servers:
        server.stop()


@pytest.mark.postgres_only
def test_a_24_frame_job_moves_the_series_by_its_frames_summed_over_the_processes(
        api_processes, api_at):
    servers, metrics_url, directory = api_processes
    before = scrape(metrics_url)
    world = World(api_at(servers[0].url))  # jobs X and Y, submitted
    job_id = world.create_job(world.alice, frames=f"1-{FRAMES}")["id"]
    token = world.submit(job_id)
    agents = [Client(server.url, token) for server in servers]
    for number in range(FRAMES):  # claims and reports alternate between the processes
        agent = agents[number % 2]
        claim = world.claim(agent, job_id)
        assert world.complete(agent, job_id, claim).status_code == 200
    assert world.job(job_id)["state"] == "collecting"
    # Each process counted its half in files of its own.
    assert len(list(directory.glob("counter_*.db"))) == 2
    # Whichever process answers a scrape, it answers for both.
    for _ in range(6):
        after = scrape(metrics_url)
        assert (after.value("raycrafter_frames_completed_total")
                - before.value("raycrafter_frames_completed_total")) == FRAMES
        assert (after.value("raycrafter_frame_render_seconds_count")
                - before.value("raycrafter_frame_render_seconds_count")) == FRAMES
        assert (after.value("raycrafter_frame_render_seconds_sum")
                - before.value("raycrafter_frame_render_seconds_sum")) == FRAMES * RENDER_SECONDS
        assert after.value("raycrafter_frame_render_seconds_bucket", le="1.0") == \
            before.value("raycrafter_frame_render_seconds_bucket", le="1.0")
        assert (after.value("raycrafter_frame_render_seconds_bucket", le="2.5")
                - before.value("raycrafter_frame_render_seconds_bucket", le="2.5")) == FRAMES
        for request in ("claim", "complete"):
            assert (after.value("raycrafter_agent_request_duration_seconds_count",
                                request=request)
                    - before.value("raycrafter_agent_request_duration_seconds_count",
                                   request=request)) == FRAMES
        # Jobs X, Y and this one were each recorded once; nothing was submitted again.
        assert after.value("raycrafter_submissions_total") - \
            before.value("raycrafter_submissions_total") == 3
        assert after.value("raycrafter_resubmissions_total") == \
            before.value("raycrafter_resubmissions_total")
        assert after.value("raycrafter_jobs", state="collecting") == 1
        assert after.value("raycrafter_jobs", state="submitted") == 2  # X and Y
        assert after.value("raycrafter_jobs", state="done") == 0
        # No relay runs: the three submit commands and this job's collect wait.
        assert after.value("raycrafter_outbox_commands") == 4
        assert after.value("raycrafter_outbox_oldest_command_age_seconds") > 0
    # The other process gone, the one left still counts what it did.
    servers[1].stop()
    assert scrape(metrics_url).value("raycrafter_frames_completed_total") - \
        before.value("raycrafter_frames_completed_total") == FRAMES
    # Started again while a process of the service lives: nothing is emptied.
    servers[1].start()
    assert scrape(metrics_url).value("raycrafter_frames_completed_total") - \
        before.value("raycrafter_frames_completed_total") == FRAMES
    # Every process stopped, the first to start again begins from nothing.
    for server in servers:
        server.stop()
    servers[0].start()
    assert scrape(metrics_url).value("raycrafter_frames_completed_total") == 0


@pytest.mark.postgres_only
def test_the_oldest_job_in_each_state_is_read_from_the_database(api_processes, api_at):
    servers, metrics_url, _ = api_processes
    world = World(api_at(servers[0].url))
    with db.connection():
        Job.update(state_changed_at=timeutil.now() - datetime.timedelta(hours=2)).where(
            Job.id == world.job_y["id"]).execute()
    samples = scrape(metrics_url)
    assert 7200 <= samples.value("raycrafter_jobs_oldest_in_state_seconds",
                                 state="submitted") < 7300
    assert samples.value("raycrafter_jobs_oldest_in_state_seconds", state="pending") == 0
    assert "raycrafter_jobs_oldest_in_state_seconds" in samples.names()


def test_the_relay_serves_its_metrics_and_counts_the_leases_it_expires(tmp_path, database_url,
                                                                        world):
    """The relay as Supervisor runs it: its own registry on its own address. No broker is
    configured, so it publishes nothing and its reconcile still expires leases."""
    job_id = world.job_x["id"]
    world.claim(world.agent_x, job_id)
    with db.connection():
        Frame.update(lease_expires_at=timeutil.now() - datetime.timedelta(seconds=600)).where(
            Frame.job == job_id, Frame.state == "leased").execute()
    listen = f"127.0.0.1:{free_port()}"
    config = write_config(tmp_path / "relay.toml", database_url=database_url,
                          data_dir=str(tmp_path / "data"), clusters=["default", "archer"],
                          relay_metrics_listen=listen)
    relay = subprocess.Popen([sys.executable, "-m", "raycrafter_api.outbox.relay",
                              "--config", config], stdout=subprocess.DEVNULL,
                             stderr=subprocess.STDOUT)
    try:
        samples = wait_for(lambda: _expired(f"http://{listen}/metrics"), timeout=30,
                           message="the relay's scrape counting the expired lease")
    finally:
        relay.terminate()
        relay.wait(timeout=15)
    assert samples.value("raycrafter_leases_expired_total") == 1
    assert samples.value("raycrafter_relay_commands_published_total", command="submit") == 0
    assert "raycrafter_jobs" not in samples.names()  # the API's scrape reads the database


def _expired(url):
    try:
        samples = scrape(url)
    except OSError:
        return None
    return samples if samples.value("raycrafter_leases_expired_total") else None
