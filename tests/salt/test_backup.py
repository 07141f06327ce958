"""Backups that restore (apply tier): the appliance's own raycrafter-backup makes a backup
of its database and of its stored scenes and frames; raycrafter-restore puts them into a
freshly built appliance (a new PostgreSQL and an empty data directory, with an API of
its own), which then finds every user, every finished job and every frame, and serves the
same frame images as the appliance they came from. The running appliance is not touched.
"""
import hashlib
import json
import os
import pathlib
import subprocess

import pytest
import requests

from support.api_server import ApiServer, write_config
from support.appliance_secrets import appliance_secrets
from support.postgres import ThrowawayPostgres

pytestmark = pytest.mark.apply

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
APPLIANCE_API = "https://localhost/api/v1"
APPLIANCE_CA = "/etc/raycrafter/tls/api.crt"
CLI = "/usr/local/bin/raycrafter"
FINAL = ("done", "failed", "cancelled")
SNAPSHOT = {
    "user": "SELECT name, role FROM \"user\" ORDER BY name",
    "job": "SELECT j.id, j.name, j.state, u.name, j.frame_first, j.frame_last FROM job j "
           "JOIN \"user\" u ON u.id = j.owner_id WHERE j.state IN ('done', 'failed', 'cancelled') ORDER BY j.id",
    "frame": "SELECT f.job_id, f.number, f.state, f.checksum FROM frame f JOIN job j ON j.id = f.job_id "
             "WHERE j.state IN ('done', 'failed', 'cancelled') ORDER BY f.job_id, f.number",
}


def run(*command, **kwargs):
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def appliance_rows(query):
    return run("runuser", "-u", "postgres", "--", "psql", "-d", "raycrafter", "-At", "-c", query)


@pytest.fixture(scope="module")
def finished_job():
    """A small job of the appliance's own, rendered to the end, so that a backup holds
    frames whatever ran before."""
    environment = {**os.environ, "HOME": "/root"}
    submitted = json.loads(run(CLI, "submit", str(REPOSITORY / "examples" / "orbit"), "--frames", "1-3",
                               "--width", "64", "--height", "48", "--name", "backup test", "--json",
                               env=environment))
    run(CLI, "wait", str(submitted["id"]), env=environment, timeout=600)
    return submitted["id"]


@pytest.fixture(scope="module")
def backups(finished_job):
    """The appliance's backups, made with its own command, database first."""
    return (pathlib.Path(run("/usr/local/sbin/raycrafter-backup", "database").strip()),
            pathlib.Path(run("/usr/local/sbin/raycrafter-backup", "files").strip()))


@pytest.fixture(scope="module")
def restored(backups, tmp_path_factory):
    """A freshly built appliance (a new PostgreSQL, an empty data directory, an API of its
    own) with the backups put in by raycrafter-restore."""
    database_dump, files = backups
    server = ThrowawayPostgres().start()
    try:
        url = server.create_database("restored")
        run("/usr/local/sbin/raycrafter-restore", "database", str(database_dump), url)
        data_dir = tmp_path_factory.mktemp("restored") / "data"
        run("/usr/local/sbin/raycrafter-restore", "files", str(files), str(data_dir))
        config = write_config(tmp_path_factory.mktemp("config") / "api.toml", database_url=url,
                              data_dir=str(data_dir), clusters=["standin"],
                              default_cluster="standin")
        with ApiServer(config) as api:
            yield server, api
    finally:
        server.stop()


def test_backups_are_root_only_and_the_newest_kept(backups):
    database_dump, files = backups
    for path in (database_dump, files, database_dump.parent.parent):
        assert path.stat().st_mode & 0o077 == 0, path
    assert database_dump.name.endswith("Z.dump") and files.name.endswith("Z")


def test_the_restored_appliance_has_every_user_finished_job_and_frame(restored, finished_job):
    server, _ = restored
    for table, query in SNAPSHOT.items():
        assert server.psql(query, database="restored") == appliance_rows(query), table
    assert str(finished_job) in appliance_rows(SNAPSHOT["job"])


def test_the_restored_appliance_serves_the_same_frames(restored, finished_job):
    _, api = restored
    headers = {"Authorization": f"Bearer {appliance_secrets()['api_admin_token']}"}
    jobs = {}
    for base, verify in ((APPLIANCE_API, APPLIANCE_CA), (api.url, True)):
        page = requests.get(f"{base}/jobs", params={"limit": 500}, headers=headers, verify=verify,
                            timeout=30).json()
        jobs[base] = {job["id"]: (job["state"], job["name"]) for job in page["jobs"]
                      if job["state"] in FINAL}
    assert jobs[api.url] == jobs[APPLIANCE_API] and finished_job in jobs[api.url]
    images = []
    for base, verify in ((APPLIANCE_API, APPLIANCE_CA), (api.url, True)):
        answer = requests.get(f"{base}/jobs/{finished_job}/frames/2", headers=headers,
                              verify=verify, timeout=30)
        assert answer.status_code == 200, answer.text
        images.append(hashlib.sha256(answer.content).hexdigest())
    assert images[0] == images[1]
