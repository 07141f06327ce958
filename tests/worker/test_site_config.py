"""The site agent's configuration (pull mode) and the profile keys of access and of the
gateway: a profile reached by its site agent needs no SSH login, a site agent serves one
such profile, and every mistake names its key."""
import os
import pwd
import subprocess
import sys

import pytest

from raycrafter_worker import config as worker_config
from raycrafter_worker.errors import ConfigError
from support.worker_harness import write_worker_config

PULL_PROFILE = {"access": "pull", "scheduler": "slurm", "launcher": "srun",
                "scratch": "/scratch/rcrender", "nodeagent": "/opt/rc/bin/raycrafter-nodeagent",
                "agent_api_url": "https://raycrafter.example.org"}


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "site.token"
    path.write_text("t" * 43)
    return str(path)


def site(token_file, profile=None, **top):
    return {"api_url": "https://raycrafter.example.org", "api_token_file": token_file,
            "clusters": {"north": profile or PULL_PROFILE}, **top}


def test_a_site_agent_serves_one_profile_in_pull_mode_without_any_ssh_login(token_file):
    config = worker_config.parse_site(site(token_file))
    profile = config.cluster
    assert (profile.name, profile.access, profile.login_host, profile.key_file) == (
        "north", "pull", "", "")
    # Its jobs are its own account's, which it lists and counts.
    assert profile.user == pwd.getpwuid(os.getuid()).pw_name
    assert (config.command_poll_seconds, config.poll_interval_seconds, config.open_jobs,
            config.prefetch) == (5.0, 30.0, 0, 2)
    assert config.lock_file.endswith("/.raycrafter-siteagent-north.lock")
    # No gateway unless the profile names one; its program sits beside the node agent's.
    assert profile.gateway_host == ""
    assert profile.gateway_program == "/opt/rc/bin/raycrafter-gateway"


@pytest.mark.parametrize("change, message", [
    ({"clusters": {}}, "[clusters] must hold exactly one cluster profile"),
    ({"clusters": {"north": PULL_PROFILE, "south": PULL_PROFILE}},
     "[clusters] must hold exactly one cluster profile, the site agent's own, not 2"),
    ({"clusters": {"north": {**PULL_PROFILE, "access": "ssh"}}},
     "cluster profile 'north': login_host is required"),
    ({"clusters": {"north": {**PULL_PROFILE, "access": "push"}}},
     "cluster profile 'north': access must be one of ssh, pull, not 'push'"),
    ({"clusters": {"north": {**PULL_PROFILE, "user": "someone-else"}}},
     "cluster profile 'north': user is 'someone-else', but the site agent runs as"),
    ({"open_jobs": -1}, "open_jobs must not be negative"),
    ({"command_poll_seconds": 0}, "command_poll_seconds must be positive"),
    ({"amqp_url": "amqp://x"}, "unknown key(s) amqp_url"),
    ({"clusters": {"north": {**PULL_PROFILE, "gateway_host": "login 1"}}},
     "cluster profile 'north': gateway_host must be a host name or an address"),
    ({"clusters": {"north": {**PULL_PROFILE, "gateway_host": "login1",
                             "gateway_port": 70000}}},
     "cluster profile 'north': port, log_port, gateway_port, gateway_log_port must be"),
    ({"clusters": {"north": {**PULL_PROFILE, "gateway_program": "bin/gw"}}},
     "cluster profile 'north': gateway_program must be an absolute path"),
])
def test_a_bad_site_configuration_names_its_key(token_file, change, message):
    with pytest.raises(ConfigError) as error:
        worker_config.parse_site({**site(token_file), **change})
    assert message in str(error.value)


def test_a_site_agent_refuses_a_profile_the_worker_reaches_over_ssh(tmp_path, token_file):
    for name in ("key", "known_hosts"):
        (tmp_path / name).write_text("x")
    ssh = {**PULL_PROFILE, "access": "ssh", "login_host": "login.example.org",
           "user": pwd.getpwuid(os.getuid()).pw_name, "key_file": str(tmp_path / "key"),
           "known_hosts_file": str(tmp_path / "known_hosts"), "transfer": "sftp"}
    with pytest.raises(ConfigError, match="a site agent serves a profile with access = "
                                          "'pull', not 'ssh'"):
        worker_config.parse_site(site(token_file, ssh))


def test_the_worker_leaves_a_pull_profile_to_its_site_agent(tmp_path, token_file):
    top = {"api_url": "https://raycrafter.example.org", "api_token_file": token_file,
           "amqp_url": "amqp://worker:pw@127.0.0.1:5672/%2F"}
    path = write_worker_config(tmp_path / "worker.toml", top, {"north": PULL_PROFILE})
    done = subprocess.run([sys.executable, "-m", "raycrafter_worker", "--config", path,
                           "--check"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "cluster north is reached by its site agent (access pull), not over SSH" \
        in done.stderr


def test_the_site_agent_exits_2_naming_what_is_wrong(tmp_path, token_file):
    path = write_worker_config(tmp_path / "site.toml",
                               {"api_url": "https://raycrafter.example.org",
                                "api_token_file": token_file},
                               {"north": {**PULL_PROFILE, "launcher": "mpirun"}})
    done = subprocess.run([sys.executable, "-m", "raycrafter_worker.site_agent", "--config",
                           path], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "cluster profile 'north': launcher must be one of aprun, srun" in done.stderr
