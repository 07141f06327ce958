"""How long a token lives: an agent token dies with its batch job (its end reported, a
newer attempt recorded, the job over), and a user's token may carry an expiry."""
import datetime

import requests

from raycrafter_api import timeutil
from raycrafter_api.database import db
from raycrafter_api.database.models import Token
from support.api_server import ApiServer, admin, create_user, write_config
from support.api_testing import assert_error


def claim(agent, job_id):
    return agent.post(f"/agent/jobs/{job_id}/claim", json={"holder": "nid001"})


def assert_revoked(response):
    body = assert_error(response, 401, "token_revoked")
    assert body["message"] == "this agent token was revoked: its batch job ended, or the job did"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_an_agent_token_dies_when_the_end_of_its_batch_job_is_reported(world):
    job_id = world.job_x["id"]
    assert claim(world.agent_x, job_id).status_code == 200
    world.batch_ended(job_id, 1, reason="in state TIMEOUT")
    assert_revoked(claim(world.agent_x, job_id))
    # The next attempt's batch job gets a token of its own, which works.
    next_agent = world.api.client(world.submit(job_id))
    assert claim(next_agent, job_id).status_code == 200
    # Another job's agent is untouched.
    assert claim(world.agent_y, world.job_y["id"]).status_code == 200


def test_every_token_of_an_open_attempt_lives_until_its_batch_job_ends(world):
    """Workers resuming one attempt each write a token of their own beside the batch
    script; the batch job starts with whichever is there, so all of them must work."""
    job = world.create_job(world.alice)
    world.transition(job["id"], "staging")
    tokens = [world.worker.post(f"/worker/jobs/{job['id']}/submissions", json={}).json()
              for _ in range(2)]
    assert [t["attempt"] for t in tokens] == [1, 1] and tokens[1]["resumed"]
    world.transition(job["id"], "submitted", batch_job_id="77")
    for token in tokens:
        assert claim(world.api.client(token["agent_token"]), job["id"]).status_code == 200
    world.batch_ended(job["id"], 1)
    for token in tokens:
        assert_revoked(claim(world.api.client(token["agent_token"]), job["id"]))


def test_an_agent_token_dies_when_its_job_is_over(world):
    job_id = world.job_x["id"]
    leased = claim(world.agent_x, job_id).json()["frame"]
    assert world.alice.post(f"/jobs/{job_id}/cancel").status_code == 200
    assert_revoked(claim(world.agent_x, job_id))
    # The frame it held, which it can no longer hand back, came back with the job's end.
    frame = world.alice.get(f"/jobs/{job_id}/frames").json()["frames"][leased - 1]
    assert (frame["state"], frame["attempts"]) == ("pending", 0)
    events = world.alice.get(f"/jobs/{job_id}/events").json()["events"]
    assert (events[-1]["frame"], events[-1]["reason"]) == (leased, "the job is cancelled")
    assert_revoked(world.agent_x.post(f"/agent/jobs/{job_id}/frames/1/heartbeat",
                                      json={"lease_id": "x"}))
    # A failure by the worker ends the job as well.
    job_y = world.job_y["id"]
    world.transition(job_y, "failed", reason="the scene cannot be unpacked")
    assert_revoked(claim(world.agent_y, job_y))


def test_a_stale_report_revokes_nothing(world):
    job_id = world.job_x["id"]
    response = world.worker.post(f"/worker/jobs/{job_id}/batch-ended", json={"attempt": 2})
    assert_error(response, 409, "stale_attempt")
    assert claim(world.agent_x, job_id).status_code == 200


def test_a_user_token_with_an_expiry_is_refused_from_then_on(tmp_path, database_url):
    config = write_config(tmp_path / "api.toml", database_url=database_url,
                          data_dir=str(tmp_path / "data"))
    create_user(config, "alice")
    made = admin(config, "token", "create", "--user", "alice", "--expires-in", "90d")
    token = made.stdout.strip()
    expires_at = timeutil.now() + datetime.timedelta(days=90)
    assert "valid until " + timeutil.iso(expires_at)[:13] in made.stderr
    listing = admin(config, "token", "list", "--user", "alice").stdout.splitlines()
    assert len(listing) == 3 and listing[1].endswith("never")
    assert listing[2].split()[3] == token[:8] and timeutil.iso(expires_at)[:13] in listing[2]

    with ApiServer(config) as api:
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{api.url}/jobs", headers=headers).status_code == 200
        with db.connection():  # ninety days later
            Token.update(expires_at=timeutil.now() - datetime.timedelta(seconds=1)).where(
                Token.prefix == token[:8]).execute()
        refused = requests.get(f"{api.url}/jobs", headers=headers)
    body = assert_error(refused, 401, "token_expired")
    assert body["message"].startswith("this token expired at ")
    listing = admin(config, "token", "list", "--user", "alice").stdout
    assert "(expired)" in listing
    assert admin(config, "user", "list").stdout.splitlines()[1].split()[3] == "1"


def test_an_expiry_is_given_in_words_the_tool_can_read(tmp_path, database_url):
    config = write_config(tmp_path / "api.toml", database_url=database_url,
                          data_dir=str(tmp_path / "data"))
    create_user(config, "alice")
    at = admin(config, "user", "add", "bob", "--expires-at", "2999-01-31T18:00:00+02:00")
    assert "valid until 2999-01-31T16:00:00Z" in at.stderr
    for args, message in (
            (["--expires-in", "90"], "a number and a unit"),
            (["--expires-in", "0d"], "a number and a unit"),
            (["--expires-at", "tomorrow"], "a date or time in ISO 8601"),
            (["--expires-at", "2020-01-01"], "not in the future")):
        result = admin(config, "token", "create", "--user", "alice", *args, check=False)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
    both = admin(config, "token", "create", "--user", "alice", "--expires-in", "1d",
                 "--expires-at", "2999-01-01", check=False)
    assert both.returncode == 2 and "not allowed with" in both.stderr
    nobody = admin(config, "token", "create", "--user", "carol", check=False)
    assert nobody.returncode == 1 and "no user 'carol'" in nobody.stderr


def test_a_disabled_user_is_refused_with_every_token_until_enabled(tmp_path, database_url):
    config = write_config(tmp_path / "api.toml", database_url=database_url,
                          data_dir=str(tmp_path / "data"))
    tokens = [create_user(config, "alice"),
              admin(config, "token", "create", "--user", "alice").stdout.strip()]
    bob = create_user(config, "bob")
    with ApiServer(config) as api:
        def answer(token):
            return requests.get(f"{api.url}/jobs", headers={"Authorization": f"Bearer {token}"})

        assert [answer(token).status_code for token in tokens + [bob]] == [200, 200, 200]
        disabled = admin(config, "user", "disable", "alice")
        assert "disabled" in disabled.stderr
        for token in tokens:
            body = assert_error(answer(token), 401, "user_disabled")
            assert body["message"] == "user alice was disabled by an administrator"
        assert answer(bob).status_code == 200
        listing = admin(config, "user", "list").stdout.splitlines()
        assert [line.split()[1] for line in listing[1:] if len(line.split()) == 6] == ["alice"]
        admin(config, "user", "enable", "alice")
        assert [answer(token).status_code for token in tokens] == [200, 200]
    unknown = admin(config, "user", "disable", "carol", check=False)
    assert unknown.returncode != 0 and "no user 'carol'" in unknown.stderr
