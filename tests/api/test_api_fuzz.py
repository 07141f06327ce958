"""No request makes the API answer 5xx: Schemathesis fuzzes every operation of the served
OpenAPI document as a user, as the worker and as an agent, against PostgreSQL. The suite
runs a few examples per operation; bench/api_fuzz.py runs 100 and more."""
import pytest

from support.api_server import ApiServer, create_user, ensure_worker_token, write_config
from support.api_testing import SCENE, Client, submit_as_worker
from support.fuzzing import fuzz

EXAMPLES_PER_OPERATION = 15


@pytest.fixture
def served_api(tmp_path, postgres):
    url = postgres.create_database("fuzz")
    config = write_config(tmp_path / "api.toml", database_url=url,
                          data_dir=str(tmp_path / "data"))
    with ApiServer(config) as server:
        user = create_user(config, "alice")
        worker = ensure_worker_token(config)
        client = Client(server.url, user)
        job = client.post("/jobs", files={"scene": ("scene.pov", SCENE)},
                          data={"name": "fuzzed", "frames": "1-3"}).json()
        agent = submit_as_worker(Client(server.url, worker), job["id"], "4242")
        yield server, {"user": user, "worker": worker, "agent": agent}
    postgres.drop_database("fuzz")


@pytest.mark.parametrize("caller", ["user", "worker", "agent"])
def test_no_generated_request_gets_a_server_error(served_api, tmp_path, caller):
    server, tokens = served_api
    run = fuzz(server.url, caller, tokens[caller], EXAMPLES_PER_OPERATION, str(tmp_path),
               seed=20261124)
    assert run.operations >= 20 and run.test_cases > 100, run.output
    assert run.server_errors == [], run.output + server.log()
