"""The operator's page's endpoint (GET /api/v1/admin/health) against a real Prometheus
(Debian's, a throwaway process) that scrapes the API's own metrics and a real node
exporter, with one rule that fires while a job waits: admins get the numbers, the graphs
and the firing alert, others a 403; a Prometheus that does not answer is a 503 that names
it, and the rest of the API goes on answering."""
import contextlib
import os
import socket
import time

import pytest
import requests

from support.api_server import ApiServer, create_user, write_config
from support.api_testing import job_fields, scene_upload
from support.polling import wait_for
from support.postgres import free_port
from support.prometheus import WAITING_RULE, NodeExporter, ThrowawayPrometheus


def _config(directory, **values):
    return write_config(directory / "api.toml", database_url=f"sqlite:///{directory}/api.db",
                        data_dir=str(directory / "data"), amqp_url="", **values)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    """The API (its metrics on a port of their own), a node exporter and a Prometheus that
    scrapes both."""
    directory = tmp_path_factory.mktemp("health")
    metrics = f"127.0.0.1:{free_port()}"
    with NodeExporter(directory) as node:
        scraper = ThrowawayPrometheus(directory, {"api": [metrics], "node": [node.target]},
                                      WAITING_RULE)
        config = _config(directory, metrics_listen=metrics, prometheus_url=scraper.url)
        with ApiServer(config) as api, scraper:
            yield api, scraper, node


@pytest.fixture(scope="module")
def tokens(prometheus):
    api, _, _ = prometheus
    return {"alice": create_user(api.config_path, "alice"),
            "root": create_user(api.config_path, "root", True)}


def ask(api, token, window="15m"):
    return requests.get(f"{api.url}/admin/health", params={"window": window},
                        headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_an_admin_sees_jobs_frames_queues_hosts_disks_and_the_firing_alert(prometheus, tokens):
    api, _, node = prometheus
    submitted = requests.post(f"{api.url}/jobs", data=job_fields(), files=scene_upload(),
                              headers={"Authorization": f"Bearer {tokens['alice']}"}, timeout=30)
    assert submitted.status_code == 201, submitted.text

    def answered_with_the_alert():
        answer = ask(api, tokens["root"])
        assert answer.status_code == 200, answer.text
        body = answer.json()
        jobs = next(graph for graph in body["graphs"] if graph["name"] == "jobs")
        pending = [line for line in jobs["lines"] if line["label"] == "pending"]
        firing = [alert for alert in body["alerts"] if alert["state"] == "firing"]
        return body if firing and pending and len(pending[0]["points"]) >= 3 else None

    body = wait_for(answered_with_the_alert, timeout=90, interval=1,
                    message="the alert firing and three points of the jobs graph")
    assert body["window"] == "15m" and body["step"] == 5
    assert body["jobs"]["pending"] == 1
    pending = next(line for graph in body["graphs"] if graph["name"] == "jobs"
                   for line in graph["lines"] if line["label"] == "pending")
    assert pending["latest"] == 1
    assert all(body["start"] <= t <= body["end"] for t, _ in pending["points"])
    assert [(alert["name"], alert["severity"], alert["summary"]) for alert in body["alerts"]
            if alert["state"] == "firing"] == [("TestJobWaiting", "warning",
                                                "a job waits to be staged")]
    lines = {(graph["name"], line["label"]): line for graph in body["graphs"]
             for line in graph["lines"]}
    # Nothing rendered yet (zero, not missing); the job's command waits in the outbox, as
    # no relay runs here.
    assert lines[("frames", "rendered")]["latest"] == 0
    assert lines[("queues", "outbox")]["latest"] == 1
    assert ("queues", "RabbitMQ") not in lines  # no broker scraped here
    [host] = body["hosts"]
    assert host["host"] == "127.0.0.1"
    assert {(target["job"], target["up"]) for target in host["targets"]} == {
        ("api", True), ("node", True)}
    # The root file system's size as the kernel tells it.
    root = os.statvfs("/")
    disks = {disk["mountpoint"]: disk for disk in host["disks"]}
    assert disks["/"]["size_bytes"] == root.f_blocks * root.f_bsize
    assert 0 < disks["/"]["available_bytes"] <= disks["/"]["size_bytes"]
    assert ("disks", f"{node.target} /") in lines


def test_admins_arriving_together_cost_prometheus_one_set_of_queries(prometheus, tokens):
    api, scraper, _ = prometheus
    ask(api, tokens["root"], "6h")  # the window's answer is fresh: kept for 5 s
    before = scraper.count("query_range")
    for _ in range(10):
        assert ask(api, tokens["root"], "6h").status_code == 200
    assert scraper.count("query_range") == before


def test_only_admins_may_look(prometheus, tokens):
    api, _, _ = prometheus
    refused = ask(api, tokens["alice"])
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert requests.get(f"{api.url}/admin/health", timeout=10).status_code == 401


def test_a_window_not_offered_is_refused_naming_it(prometheus, tokens):
    api, _, _ = prometheus
    refused = ask(api, tokens["root"], "2d")
    assert refused.status_code == 400
    assert refused.json()["details"] == {"field": "window"}


@pytest.fixture
def api_server(tmp_path):
    """``api_server(**config)``: the API as a process with these config keys, and an
    admin's token."""
    with contextlib.ExitStack() as stack:
        def start(**values):
            config = _config(tmp_path, **values)
            api = stack.enter_context(ApiServer(config))
            return api, create_user(config, "root", True)
        yield start


def test_prometheus_away_is_a_503_naming_it_and_the_rest_answers(api_server):
    api, root = api_server(prometheus_url=f"http://127.0.0.1:{free_port()}")
    answer = ask(api, root)
    assert answer.status_code == 503
    assert answer.json()["error"] == "prometheus_unavailable"
    assert "does not answer" in answer.json()["message"]
    jobs = requests.get(f"{api.url}/jobs", headers={"Authorization": f"Bearer {root}"},
                        timeout=10)
    assert jobs.status_code == 200


def test_a_prometheus_that_never_answers_is_given_up_after_the_timeout(api_server):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        api, root = api_server(prometheus_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
                               prometheus_timeout_seconds=1.0)
        started = time.monotonic()
        answer = ask(api, root)
        waited = time.monotonic() - started
    assert answer.status_code == 503 and answer.json()["error"] == "prometheus_unavailable"
    assert "within 1 s" in answer.json()["message"] or "timed out" in answer.json()["message"]
    # One time limit for the whole page, not one for each of its eleven queries.
    assert waited < 3


def test_without_a_monitoring_host_the_page_is_told_so(api_server):
    api, root = api_server()
    answer = ask(api, root)
    assert answer.status_code == 503 and answer.json()["error"] == "prometheus_not_configured"
