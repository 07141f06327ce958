"""The configuration is checked at start-up; errors name the profile and the key."""
import subprocess
import sys

import pytest

from raycrafter_worker import config as worker_config
from raycrafter_worker.errors import ConfigError
from support.worker_harness import write_worker_config


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
    # The scheduler's commands come from the PATH; no queue limit; nodes as the site gives.
    assert (profile.scheduler_bin_dir, profile.max_queued_jobs, profile.cores_per_node) \
        == ("", 0, 0)
    assert profile.job_dir(12) == profile_values["scratch"] + "/raycrafter/12"
    assert config.poll_interval_seconds == 30.0 and config.prefetch == 2
    # The renderer renders confined only, within the node agent's own limits.
    assert profile.allow_unconfined is False and profile.renderer_limits == {}
    # Files travel as streams over SSH where the login node runs python3.
    assert profile.streams is True and profile.login_python == "python3"


@pytest.mark.parametrize("change, message", [
    ({"scheduler": "lsf"}, "cluster profile 'archer': scheduler must be one of slurm, pbspro, "
                           "torque, pbs-wrappers, not 'lsf'"),
    # What "pbs" meant is now named: the profile says which batch system it is.
    ({"scheduler": "pbs"}, "cluster profile 'archer': scheduler 'pbs' now names its batch "
                           "system: pbspro (PBS Professional, OpenPBS), torque, or "
                           "pbs-wrappers (Slurm's qsub/qstat/qdel wrappers, what 'pbs' meant "
                           "before)"),
    ({"scheduler_bin_dir": "opt/pbs/bin"}, "cluster profile 'archer': scheduler_bin_dir must "
                                           "be an absolute path"),
    ({"scheduler_bin_dir": "/opt/pbs bin"}, "cluster profile 'archer': scheduler_bin_dir "
                                            "must be an absolute path"),
    ({"max_queued_jobs": -1}, "cluster profile 'archer': max_queued_jobs must not be negative"),
    ({"cores_per_node": -2}, "cluster profile 'archer': cores_per_node must not be negative"),
    ({"launcher": "aprun"}, "cluster profile 'archer': launcher = 'aprun' needs "
                            "cores_per_node"),
    ({"walltime": "1h"}, "cluster profile 'archer': walltime must look like HH:MM:SS"),
    ({"nodes": 0}, "cluster profile 'archer': nodes must be at least 1"),
    ({"key_file": "/nonexistent"}, "cluster profile 'archer': key_file: /nonexistent is not"),
    ({"scratch": "relative"}, "cluster profile 'archer': scratch must be an absolute path"),
    ({"colour": "blue"}, "cluster profile 'archer': unknown key(s) colour"),
    ({"port": "22"}, "cluster profile 'archer': port must be of type int"),
    ({"streams": "yes"}, "cluster profile 'archer': streams must be of type bool"),
    # The size that once chose GridFTP: measured costs choose now.
    ({"gridftp_min_bytes": 0}, "cluster profile 'archer': gridftp_min_bytes is no longer a "
                               "setting: each batch goes the way measured to cost least"),
    ({"login_python": " "}, "cluster profile 'archer': login_python must name Python 3.8"),
    ({"allow_unconfined": "yes"}, "cluster profile 'archer': allow_unconfined must be of type"),
    ({"renderer_max_cpu_seconds": -1},
     "cluster profile 'archer': renderer_max_cpu_seconds must not be negative"),
    ({"renderer_max_work_dir_bytes": "2G"},
     "cluster profile 'archer': renderer_max_work_dir_bytes must be of type int"),
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


def test_the_broker_api_login_node_and_log_server_come_from_consul_at_start(tmp_path):
    """Against a double of Consul's HTTP API (no Consul agent can run here:
    tests/support/consul_double.py). The addresses found go into the profile the node
    agents are handed, so compute nodes need no Consul agent."""
    from support.consul_double import ConsulDouble
    files = {name: tmp_path / name for name in ("token", "key", "known_hosts")}
    for path in files.values():
        path.write_text("x")
    profile = {"login_host": "127.0.0.1", "user": "render", "key_file": str(files["key"]),
               "known_hosts_file": str(files["known_hosts"]), "scheduler": "pbs-wrappers",
               "launcher": "srun", "scratch": "/scratch", "nodeagent": "/opt/agent",
               "agent_api_url": "https://localhost", "log_host": "127.0.0.1",
               "transfer": "sftp",
               "consul_services": {"login_host": "raycrafter-cluster-login",
                                   "log_host": "raycrafter-logserver",
                                   "agent_api_url": "raycrafter-api"}}
    with ConsulDouble() as consul:
        for node, address, service, port in (
                ("broker", "10.0.0.21", "raycrafter-rabbitmq", 5671),
                ("web", "10.0.0.31", "raycrafter-api", 443),
                ("cluster", "10.0.0.41", "raycrafter-cluster-login", 2222),
                ("logging", "10.0.0.51", "raycrafter-logserver", 12202)):
            consul.add_instance(node, address, service, port)
        raw = {"api_url": "https://localhost", "api_token_file": str(files["token"]),
               "amqp_url": "amqp://worker:pw@127.0.0.1:5672/%2F", "clusters": {"standin": profile},
               "consul_agent": consul.url,
               "consul_services": {"amqp_url": "raycrafter-rabbitmq", "api_url": "raycrafter-api"}}
        config = worker_config.parse(raw)
        standin = config.clusters["standin"]
        assert (config.amqp_url, config.api_url) == ("amqp://worker:pw@10.0.0.21:5671/%2F",
                                                     "https://10.0.0.31:443")
        assert (standin.login_host, standin.port, standin.log_host, standin.log_port,
                standin.agent_api_url) == ("10.0.0.41", 2222, "10.0.0.51", 12202,
                                           "https://10.0.0.31:443")
        consul.set_status("raycrafter-logserver", "critical", node="logging")
        with pytest.raises(ConfigError, match="cluster profile 'standin': the Consul service "
                                              "'raycrafter-logserver' has no healthy instance"):
            worker_config.parse(raw)
        with pytest.raises(ConfigError, match="consul_services needs consul_agent"):
            worker_config.parse({**raw, "consul_agent": ""})
