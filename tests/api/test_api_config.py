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
    ({"clusters": []}, "clusters"),
    ({"default_cluster": "nope"}, "default_cluster"),
    ({"database_url": "mysql://x"}, "database_url"),
    ({"reconcile_after_seconds": {"running": 5}}, "unknown state 'running'"),
    ({"reconcile_after_seconds": {"pending": -1}}, "reconcile_after_seconds.pending"),
    ({"relay_poll_seconds": 0}, "relay_poll_seconds"),
])
def test_invalid_config_is_refused_clearly(change, message):
    values = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    with pytest.raises(config_module.ConfigError, match=message):
        config_module.from_dict(values)


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
    from raycrafter_api.db import connect_database
    database = connect_database("postgresql://us%40er:p%2Fw%3A%25@db.example:6432/my%20db")
    assert database.database == "my db"
    assert database.connect_params == {"user": "us@er", "password": "p/w:%",
                                       "host": "db.example", "port": 6432}
