"""Where a token may go without TLS: loopback only."""
import pytest

from raycrafter_contract.addresses import is_loopback


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.8.9.10", "::1"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["example.org", "10.0.0.1", "0.0.0.0", "::", "", None,
                                  "localhost.example.org", "127.0.0.1.example.org"])
def test_every_other_host_is_not(host):
    assert not is_loopback(host)
