"""The components' Consul lookup (raycrafter_contract.utilities.consul_catalog), against
a double of Consul's HTTP API on loopback: no Consul agent can run on these machines
(tests/support/consul_double.py)."""
import pytest

from raycrafter_contract.utilities.consul_catalog import (ConsulLookupError, healthy_instance,
                                                          resolve, with_address)
from support.consul_double import ConsulDouble


@pytest.fixture
def consul():
    with ConsulDouble() as double:
        yield double


def test_a_healthy_instance_is_chosen_over_a_critical_one(consul):
    consul.add_instance("db-1", "10.0.0.11", "raycrafter-postgresql", 5432, status="critical")
    consul.add_instance("db-2", "10.0.0.12", "raycrafter-postgresql", 5433)
    assert healthy_instance(consul.url, "raycrafter-postgresql") == ("10.0.0.12", 5433)


def test_an_instance_registered_with_an_address_is_reached_there(consul):
    consul.add_instance("db-1", "10.0.0.11", "raycrafter-postgresql", 5432,
                        address="10.1.0.11")
    assert healthy_instance(consul.url, "raycrafter-postgresql") == ("10.1.0.11", 5432)


def test_no_healthy_instance_is_an_error_naming_the_service(consul):
    consul.add_instance("mq-1", "10.0.0.21", "raycrafter-rabbitmq", 5672, status="critical")
    with pytest.raises(ConsulLookupError, match="'raycrafter-rabbitmq' has no healthy instance"):
        healthy_instance(consul.url, "raycrafter-rabbitmq")
    with pytest.raises(ConsulLookupError, match="'raycrafter-logserver' has no healthy instance"):
        healthy_instance(consul.url, "raycrafter-logserver")


def test_an_agent_that_does_not_answer_is_an_error_naming_it_and_the_service():
    with ConsulDouble() as gone:
        url = gone.url
    with pytest.raises(ConsulLookupError, match=f"Consul agent at {url} for the service "
                                                f"'raycrafter-api'"):
        healthy_instance(url, "raycrafter-api")


def test_a_url_keeps_its_credentials_path_and_query_with_the_instance_address():
    assert with_address("amqp://api:p%40ss@127.0.0.1:5672/%2F?heartbeat=30", "10.0.0.21",
                        5673) == "amqp://api:p%40ss@10.0.0.21:5673/%2F?heartbeat=30"
    assert with_address("https://localhost/", "fd00::5", 443) == "https://[fd00::5]:443/"


def test_settings_take_urls_and_host_port_pairs_from_the_catalog(consul):
    consul.add_instance("web-1", "10.0.0.31", "raycrafter-api", 443)
    consul.add_instance("login-1", "10.0.0.41", "raycrafter-cluster-login", 2222)
    settings = {"agent_api_url": "https://localhost", "login_host": "127.0.0.1", "port": 22,
                "user": "render"}
    resolved = resolve(settings, {"agent_api_url": "raycrafter-api",
                                  "login_host": "raycrafter-cluster-login"},
                       consul.url, ("agent_api_url", "login_host"), {"login_host": "port"})
    assert resolved == {"agent_api_url": "https://10.0.0.31:443", "login_host": "10.0.0.41",
                        "port": 2222, "user": "render"}
    assert settings["login_host"] == "127.0.0.1"


def test_only_the_settings_a_component_allows_are_resolved(consul):
    with pytest.raises(ConsulLookupError, match="consul_services must map some of amqp_url"):
        resolve({"data_dir": "/srv"}, {"data_dir": "raycrafter-api"}, consul.url, ("amqp_url",))
