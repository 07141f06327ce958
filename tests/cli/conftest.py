"""Fixtures for the tests of the user CLI ``raycrafter``.

The real API (``support.api_server``, SQLite) runs once per session; every test gets a
user of its own and an empty home directory, and runs the CLI as a subprocess, configured
through the environment as a user would (``cli_harness.Cli``).
"""
import os
import secrets

import pytest

from cli_harness import Cli, FakeCluster
from support.api_server import ApiServer, create_user, ensure_worker_token, write_config

# Fast polling for `wait`, so tests do not sit through the 2 s default.
POLL_SECONDS = "0.05"
# Variables of the outer environment that would change how the CLI behaves.
_DROPPED = ("XDG_CONFIG_HOME", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "COLUMNS")


@pytest.fixture(scope="session")
def api_server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("api")
    config = write_config(directory / "api.toml", database_url=f"sqlite:///{directory}/api.db",
                          data_dir=str(directory / "data"), clusters=["default", "archer"],
                          max_attempts=2)
    with ApiServer(config) as server:
        yield server


@pytest.fixture(scope="session")
def cluster(api_server):
    fake = FakeCluster(api_server.url, ensure_worker_token(api_server.config_path))
    yield fake
    fake.close()


@pytest.fixture
def user_token(api_server):
    return create_user(api_server.config_path, f"user-{secrets.token_hex(4)}")


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def cli(api_server, user_token, home, tmp_path):
    """The CLI as a user with settings in the environment and nothing in ~/.config."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RAYCRAFTER_") and k.upper() not in _DROPPED}
    env.update(HOME=str(home), RAYCRAFTER_URL=api_server.base, RAYCRAFTER_TOKEN=user_token,
               RAYCRAFTER_POLL_SECONDS=POLL_SECONDS)
    return Cli(env, tmp_path)


@pytest.fixture
def submit(cli):
    """Submit a one-file scene through the CLI; returns the new job's id."""
    def submit_scene(*args):
        scene = cli.cwd / f"scene-{secrets.token_hex(3)}.pov"
        scene.write_text("sphere { <0, 1, 2>, 2 pigment { color rgb 1 } }\n")
        result = cli.run("submit", scene, *args)
        assert result.returncode == 0, result.stderr
        return int(result.stdout.strip())
    return submit_scene
