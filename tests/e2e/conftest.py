"""End-to-end tier: the appliance brought up by `./appliance up` on this host, used the way
a researcher uses it, through the installed `raycrafter` CLI and the HTTPS API.

Nothing is started here: every job goes API → RabbitMQ → worker → SSH → qsub → Slurm →
node agent → GridFTP → API on the running services. Users are created per test run with
unique names, because the appliance's database outlives the tests.
"""
import json
import os
import pathlib
import subprocess
import uuid

import pytest
import requests

from support.polling import wait_for

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = REPOSITORY / "examples"
SCENES = pathlib.Path(__file__).resolve().parent / "scenes"
RAYCRAFTER = "/usr/local/bin/raycrafter"
ADMIN = ["/opt/raycrafter/api/bin/raycrafter-admin", "--config", "/etc/raycrafter/api/api.toml"]
BASE_URL = "https://localhost"
CA_FILE = "/etc/raycrafter/tls/api.crt"
ADMIN_TOKEN_FILE = pathlib.Path("/etc/raycrafter/api/admin.token")
GELF_RECORDS = pathlib.Path("/var/log/raycrafter/gelf/records.jsonl")
FINAL_STATES = ("done", "failed", "cancelled")


class Client:
    """One user of the appliance: the CLI with their settings, and the API for checks."""

    def __init__(self, name, token):
        self.name = name
        self.token = token
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def cli(self, *args, timeout=600, env=None):
        """Run `raycrafter ARGS` as this user (settings from the environment)."""
        environment = {key: value for key, value in os.environ.items()
                       if not key.startswith("RAYCRAFTER_")}
        environment.update(RAYCRAFTER_URL=BASE_URL, RAYCRAFTER_TOKEN=self.token,
                           RAYCRAFTER_CA=CA_FILE, **(env or {}))
        return subprocess.run([RAYCRAFTER, *map(str, args)], capture_output=True, text=True,
                              timeout=timeout, env=environment)

    def submit(self, scene, *options):
        """Submit through the CLI; returns the new job's id."""
        result = self.cli("submit", scene, *options, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["id"]

    def get(self, path, **params):
        # verify per request: a session's own setting loses to REQUESTS_CA_BUNDLE.
        response = self.http.get(f"{BASE_URL}/api/v1{path}", params=params, timeout=30,
                                 verify=CA_FILE)
        response.raise_for_status()
        return response.json()

    def job(self, job_id):
        return self.get(f"/jobs/{job_id}")

    def _every(self, path, key):
        items, offset = [], 0
        while offset is not None:
            page = self.get(path, limit=500, offset=offset)
            items += page[key]
            offset = page["next_offset"]
        return items

    def events(self, job_id):
        return self._every(f"/jobs/{job_id}/events", "events")

    def frames(self, job_id):
        return self._every(f"/jobs/{job_id}/frames", "frames")

    def wait_until(self, job_id, condition, timeout, message):
        return wait_for(lambda: condition(self.job(job_id)), timeout=timeout, interval=1.0,
                        message=message)


def job_states(events):
    """The job's own state changes in order (frame events left out)."""
    return [event["to"] for event in events if event["frame"] is None]


def gelf_records(job_id):
    """Every record the log server keeps for the job (GELF additional fields are strings)."""
    records = []
    if GELF_RECORDS.exists():
        with GELF_RECORDS.open() as f:
            for line in f:
                if f'"_job_id":"{job_id}"' in line:
                    records.append(json.loads(line))
    return records


@pytest.fixture(scope="session")
def appliance():
    """The running appliance; fails (never skips) when it is not up."""
    assert os.geteuid() == 0, "the end-to-end tier runs as root on an appliance host (./appliance test)"
    assert os.path.exists(RAYCRAFTER), f"{RAYCRAFTER} is missing: run ./appliance up"
    wait_for(lambda: requests.get(f"{BASE_URL}/api/v1/health", verify=CA_FILE, timeout=10).ok,
             timeout=120, interval=2, message="the appliance's API to be healthy")
    return BASE_URL


@pytest.fixture(scope="session")
def admin(appliance):
    return Client("admin", ADMIN_TOKEN_FILE.read_text().strip())


@pytest.fixture(scope="session")
def new_user(appliance):
    """Make a user with a fresh name; returns their Client."""
    def make(prefix):
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        result = subprocess.run([*ADMIN, "user", "add", name], capture_output=True, text=True,
                                check=True)
        return Client(name, result.stdout.strip().splitlines()[-1].strip())
    return make


@pytest.fixture(scope="session")
def researcher(new_user):
    return new_user("researcher")
