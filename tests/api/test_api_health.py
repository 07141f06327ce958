"""Health: 200 when the database and broker answer, 503 (JSON error) when one does not."""
import socket

import pytest

from support.api_testing import assert_error


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def config_values(config_values):
    return {**config_values, "amqp_url": f"amqp://u:p@127.0.0.1:{closed_port()}/%2F"}


def test_health_is_503_when_the_broker_is_unreachable(api):
    body = assert_error(api.client().get("/health"), 503, "unavailable")
    assert body["details"]["database"] == "ok"
    assert body["details"]["broker"] != "ok"
