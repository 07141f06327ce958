"""Configuration: defaults, validation, clear errors."""
import pytest

from raycrafter_api import config as config_module

BASE = {"database_url": "sqlite:////tmp/x.db", "data_dir": "/tmp/x"}


def test_defaults_fill_everything_but_database_and_data_dir():
    config = config_module.from_dict(BASE)
    assert config.amqp_url == "" and config.lease_seconds == 300
    assert config.clusters == ("default",) and config.default_cluster == "default"
    assert config.reconcile_after_seconds == {"pending": 300, "staging": 900,
                                              "collecting": 900}


def test_load_from_toml_file(tmp_path):
    path = tmp_path / "api.toml"
    path.write_text('database_url = "postgresql://u:p%40ss@127.0.0.1:5432/rc"\n'
                    'data_dir = "/srv/rc"\nclusters = ["archer", "cirrus"]\n'
                    'default_cluster = "cirrus"\n[reconcile_after_seconds]\npending = 60\n')
    config = config_module.load(str(path))
    assert config.clusters == ("archer", "cirrus")
    assert config.reconcile_after_seconds["pending"] == 60
    assert config.reconcile_after_seconds["collecting"] == 900


@pytest.mark.parametrize("change, message", [
    ({"database_url": None}, "database_url"),
    ({"data_dir": ""}, "data_dir"),
    ({"colour": "blue"}, "unknown config keys: colour"),
    ({"lease_seconds": 0}, "lease_seconds"),
    ({"lease_seconds": "5"}, "lease_seconds"),
    ({"max_attempts": True}, "max_attempts"),
    ({"max_chunk_frames": 1001}, "'max_chunk_frames' must be at most 1000"),
    ({"log_credential_key": "short"}, "'log_credential_key' must be at least 32 characters"),
    ({"log_credential_seconds": 0}, "log_credential_seconds"),
    ({"clusters": []}, "clusters"),
    ({"default_cluster": "nope"}, "default_cluster"),
    ({"database_url": "mysql://x"}, "database_url"),
    ({"reconcile_after_seconds": {"running": 5}}, "unknown state 'running'"),
    ({"reconcile_after_seconds": {"pending": -1}}, "reconcile_after_seconds.pending"),
    ({"relay_poll_seconds": 0}, "relay_poll_seconds"),
    ({"pull_clusters": ["nope"]}, r"pull_clusters \['nope'\] are not in clusters"),
    ({"pull_clusters": "archer"}, "'pull_clusters' must be a list of names"),
    ({"clusters": ["archer", "any"]}, "'any' names a job's open cluster"),
    ({"default_cluster": "any"}, "default_cluster"),
    ({"notify_allowed_networks": "10.0.0.0/8"}, "'notify_allowed_networks' must be a list"),
    ({"notify_allowed_networks": ["10.0.0.1/8"]}, "notify_allowed_networks.*host bits set"),
    ({"notify_allowed_networks": ["lab"]}, "notify_allowed_networks"),
    ({"smtp_port": 0}, "smtp_port"),
    ({"notify_retry_seconds": -1}, "notify_retry_seconds"),
])
def test_invalid_config_is_refused_clearly(change, message):
    values = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    with pytest.raises(config_module.ConfigError, match=message):
        config_module.from_dict(values)


def test_a_job_may_leave_its_cluster_open_where_clusters_are_in_pull_mode():
    values = {**BASE, "clusters": ["archer", "cirrus"], "default_cluster": "archer"}
    assert config_module.from_dict(values).job_clusters == ("archer", "cirrus")
    pulled = config_module.from_dict({**values, "pull_clusters": ["cirrus"]})
    assert pulled.job_clusters == ("archer", "cirrus", "any")
    assert pulled.clusters_not_on_the_broker == ("cirrus", "any")
    assert config_module.from_dict({**values, "pull_clusters": ["cirrus"],
                                    "default_cluster": "any"}).default_cluster == "any"


def test_unreadable_or_invalid_files(tmp_path, monkeypatch):
    with pytest.raises(config_module.ConfigError, match="cannot read"):
        config_module.load(str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("database_url = \n")
    with pytest.raises(config_module.ConfigError, match="not valid TOML"):
        config_module.load(str(bad))
    monkeypatch.delenv(config_module.ENV_VAR, raising=False)
    with pytest.raises(config_module.ConfigError, match=config_module.ENV_VAR):
        config_module.load_from_env()


def test_a_database_url_is_read_with_its_percent_encoding_undone():
    """Salt writes the generated password URL-encoded; the driver must get it decoded."""
    from raycrafter_api.database.db import connect_database
    database = connect_database("postgresql://us%40er:p%2Fw%3A%25@db.example:6432/my%20db")
    assert database.database == "my db"
    credentials = {key: value for key, value in database.connect_params.items()
                   if key != "connection_factory"}
    assert credentials == {"user": "us@er", "password": "p/w:%", "host": "db.example",
                           "port": 6432}


def test_urls_take_a_healthy_instance_from_consul_at_start():
    """Against a double of Consul's HTTP API (no Consul agent can run here:
    tests/support/consul_double.py)."""
    from support.consul_double import ConsulDouble
    with ConsulDouble() as consul:
        consul.add_instance("db-1", "10.0.0.11", "raycrafter-postgresql", 5432, status="critical")
        consul.add_instance("db-2", "10.0.0.12", "raycrafter-postgresql", 5432)
        consul.add_instance("mq-1", "10.0.0.21", "raycrafter-rabbitmq", 5671)
        config = config_module.from_dict({
            "database_url": "postgresql://rc:p%40ss@127.0.0.1:5432/raycrafter",
            "amqp_url": "amqp://api:pw@127.0.0.1:5672/%2F", "data_dir": "/tmp/x",
            "consul_agent": consul.url,
            "consul_services": {"database_url": "raycrafter-postgresql",
                                "amqp_url": "raycrafter-rabbitmq"}})
        assert config.database_url == "postgresql://rc:p%40ss@10.0.0.12:5432/raycrafter"
        assert config.amqp_url == "amqp://api:pw@10.0.0.21:5671/%2F"
        consul.set_status("raycrafter-postgresql", "critical", node="db-2")
        with pytest.raises(config_module.ConfigError,
                           match="'raycrafter-postgresql' has no healthy instance"):
            config_module.from_dict({**BASE, "consul_agent": consul.url,
                                     "consul_services": {"database_url": "raycrafter-postgresql"}})
        with pytest.raises(config_module.ConfigError, match="consul_services must map some of"):
            config_module.from_dict({**BASE, "consul_agent": consul.url,
                                     "consul_services": {"data_dir": "raycrafter-api"}})


def test_allowed_networks_are_read_as_networks():
    config = config_module.from_dict({**BASE, "notify_allowed_networks": ["10.20.0.0/16",
                                                                           "fd00::/8"]})
    assert [str(network) for network in config.notify_allowed_networks] == ["10.20.0.0/16",
                                                                            "fd00::/8"]
