"""With each submission attempt the API issues the log credential its node agents sign
their records with: the job and the attempt, signed with the key the log server holds."""
import time

import pytest
from raycrafter_contract import log_credentials

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
