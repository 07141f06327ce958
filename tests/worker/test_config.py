"""The configuration is checked at start-up; errors name the profile and the key."""
import subprocess
import sys

import pytest

from raycrafter_worker import config as worker_config
from raycrafter_worker.errors import ConfigError
from worker_harness import write_worker_config


@pytest.fixture
def top(tmp_path):
    token = tmp_path / "token"
    token.write_text("t")
    return {"api_url": "https://api.example.org", "api_token_file": str(token),
            "amqp_url": "amqp://worker:pw@127.0.0.1:5672/%2F"}


def test_a_complete_file_loads_with_defaults(tmp_path, top, profile_values):
    path = write_worker_config(tmp_path / "w.toml", top, {"archer": profile_values})
    config = worker_config.load(path)
    profile = config.clusters["archer"]
    assert profile.scheduler == "slurm" and profile.port == 22
    assert profile.job_dir(12) == profile_values["scratch"] + "/raycrafter/12"
    assert config.poll_interval_seconds == 30.0 and config.prefetch == 2


@pytest.mark.parametrize("change, message", [
    ({"scheduler": "lsf"}, "cluster profile 'archer': scheduler must be one of pbs, slurm"),
    ({"walltime": "1h"}, "cluster profile 'archer': walltime must look like HH:MM:SS"),
    ({"nodes": 0}, "cluster profile 'archer': nodes must be at least 1"),
    ({"key_file": "/nonexistent"}, "cluster profile 'archer': key_file: /nonexistent is not"),
    ({"scratch": "relative"}, "cluster profile 'archer': scratch must be an absolute path"),
    ({"colour": "blue"}, "cluster profile 'archer': unknown key(s) colour"),
    ({"port": "22"}, "cluster profile 'archer': port must be of type int"),
])
def test_a_bad_profile_is_named_with_its_key(top, profile_values, change, message):
    with pytest.raises(ConfigError) as error:
        worker_config.parse({**top, "clusters": {"archer": {**profile_values, **change}}})
    assert message in str(error.value)


def test_a_missing_profile_key_is_named(top, profile_values):
    values = dict(profile_values)
    del values["login_host"]
    with pytest.raises(ConfigError, match="cluster profile 'archer': login_host is required"):
        worker_config.parse({**top, "clusters": {"archer": values}})


def test_the_broker_password_is_never_echoed(top, profile_values):
    with pytest.raises(ConfigError) as error:
        worker_config.parse({**top, "amqp_url": "http://worker:hunter2@host/",
                             "clusters": {"archer": profile_values}})
    assert "hunter2" not in str(error.value)


def test_the_command_exits_2_with_the_reason(tmp_path, top, profile_values):
    path = write_worker_config(tmp_path / "w.toml", top,
                               {"archer": {**profile_values, "launcher": "mpirun"}})
    done = subprocess.run([sys.executable, "-m", "raycrafter_worker", "--config", path],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "cluster profile 'archer': launcher must be one of aprun, srun" in done.stderr


def test_check_logs_in_and_lists_the_queue(tmp_path, top, profile_values):
    path = write_worker_config(tmp_path / "w.toml", top, {"archer": profile_values})
    done = subprocess.run([sys.executable, "-m", "raycrafter_worker", "--config", path,
                           "--check"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "cluster archer: logged in" in done.stdout
