"""An alert fires for real on the appliance applied on this host (apply tier): the worker
stopped while a job waits, the shipped rule RaycrafterWorkerDown reaches Alertmanager and
the receiver an operator named in pillar; the worker started again, "resolved" reaches
the receiver and the job ends done.

The receiver is this test's own on loopback, put into Alertmanager's configuration the
operator's way (pillar raycrafter:monitoring:webhooks, applied with salt.monitoring); the
appliance is left as it was (worker running, the configuration without the receiver),
whatever the outcome."""
import json
import os
import pathlib
import subprocess
import urllib.parse
import urllib.request

import pytest

from support.alert_receiver import (FIRING_WITHIN, RESOLVED_WITHIN, WORKER_DOWN, AlertReceiver,
                                    receiver_pillar)
from support.appliance_salt import apply_sls
from support.appliance_services import supervised_pids
from support.loopback_http import serving
from support.polling import wait_for

pytestmark = pytest.mark.apply

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"
PROMETHEUS = "http://127.0.0.1:9090/api/v1"
ALERTMANAGER = "http://127.0.0.1:9093/api/v2"
ALERTMANAGER_CONFIG = pathlib.Path("/etc/prometheus/alertmanager.yml")
WORKERS = "raycrafter-worker:*"


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def worker_target_health():
    targets = get_json(f"{PROMETHEUS}/targets")["data"]["activeTargets"]
    return {target["health"] for target in targets if target["labels"]["job"] == "worker"}


def active_in_alertmanager(alertname):
    query = urllib.parse.urlencode({"filter": f'alertname="{alertname}"'})
    return [alert for alert in get_json(f"{ALERTMANAGER}/alerts?{query}")
            if alert["status"]["state"] == "active"]


def raycrafter(*args):
    """The CLI as root, with root's settings (salt/cli)."""
    completed = subprocess.run(["/usr/local/bin/raycrafter", *map(str, args)], capture_output=True,
                               text=True, timeout=900, env={**os.environ, "HOME": "/root"})
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def supervisorctl(action, check=True):
    subprocess.run(["supervisorctl", action, WORKERS], capture_output=True, text=True, check=check,
                   timeout=120)


def apply_monitoring(pillar=None):
    applied = apply_sls("salt.monitoring", pillar)
    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-2000:]


@pytest.fixture
def receiver():
    """A receiver on loopback that Alertmanager tells at once; Alertmanager's configuration
    as it was afterwards."""
    assert os.geteuid() == 0, "the apply tier runs as root on an appliance host (./appliance test)"
    with serving(AlertReceiver("127.0.0.1")) as server:
        try:
            apply_monitoring(receiver_pillar(server.url))
            assert server.url in ALERTMANAGER_CONFIG.read_text()
            yield server
        finally:
            apply_monitoring()
    assert server.url not in ALERTMANAGER_CONFIG.read_text()


@pytest.fixture
def stopped_worker():
    """The worker stopped for the test, running again afterwards."""
    wait_for(lambda: worker_target_health() == {"up"}, timeout=60, interval=1,
             message="Prometheus to find the worker up before it is stopped")
    workers = len(supervised_pids(WORKERS))
    supervisorctl("stop")
    try:
        yield
    finally:
        # Started already when the test got that far: supervisorctl then says so, and fails.
        supervisorctl("start", check=False)
        assert len(supervised_pids(WORKERS)) == workers


def test_the_worker_down_alert_fires_and_resolves_at_the_operators_receiver(receiver,
                                                                              stopped_worker):
    assert receiver.statuses(WORKER_DOWN) == []
    job_id = raycrafter("submit", EXAMPLES / "orbit", "--frames", "1-4", "--width", 160,
                        "--height", 120, "--name", "monitoring: worker down", "--json")["id"]

    labels = receiver.wait_for_status(WORKER_DOWN, "firing", FIRING_WITHIN)
    assert labels["job"] == "worker" and labels["severity"] == "critical"
    assert active_in_alertmanager(WORKER_DOWN)
    # Nothing took the job while the worker was down.
    assert raycrafter("status", job_id, "--json")["state"] == "pending"

    supervisorctl("start")
    receiver.wait_for_status(WORKER_DOWN, "resolved", RESOLVED_WITHIN)
    assert raycrafter("wait", job_id, "--json")["state"] == "done"
