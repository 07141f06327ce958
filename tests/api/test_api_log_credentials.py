"""With each submission attempt the API issues the log credential its node agents sign
their records with: the job and the attempt, signed with the key the log server holds. The
worker and each site agent get theirs for their own records about jobs, naming them."""
import time

import pytest
from raycrafter_contract import log_credentials
from support.api_testing import assert_error

KEY = "a-log-credential-key-of-the-deployment-0123"


@pytest.fixture
def config_values(tmp_path, database_url):
    return {"database_url": database_url, "data_dir": str(tmp_path / "data"),
            "clusters": ["default"], "max_submissions": 2, "log_credential_key": KEY,
            "log_credential_seconds": 3600}


def test_each_attempt_gets_a_credential_for_its_job_and_attempt(world):
    job_id = world.job_x["id"]
    world.batch_ended(job_id, 1)
    answer = world.worker.post(f"/worker/jobs/{job_id}/submissions", json={}).json()
    credential = log_credentials.verify(KEY.encode(), answer["log_credential"], time.time())
    assert (credential.job_id, credential.attempt) == (job_id, 2)
    assert 3500 < credential.expires_at - time.time() <= 3600
    with pytest.raises(log_credentials.CredentialRefused):
        log_credentials.verify(b"another key of the same length, not this one", answer[
            "log_credential"], time.time())


def test_the_worker_and_each_site_agent_get_a_credential_naming_them(world):
    for client, service in ((world.worker, "raycrafter-worker"),
                            (world.site, "raycrafter-siteagent:default"),
                            (world.site_archer, "raycrafter-siteagent:archer")):
        answer = client.get("/worker/log-credential")
        assert answer.status_code == 200, answer.text
        assert answer.json()["service"] == service
        assert log_credentials.verify_any(KEY.encode(), answer.json()["credential"],
                                          time.time()) == log_credentials.ServiceCredential(
            service)
    for client in (world.alice, world.root, world.agent_x):
        assert_error(client.get("/worker/log-credential"), 403)
    assert_error(world.anonymous.get("/worker/log-credential"), 401)

