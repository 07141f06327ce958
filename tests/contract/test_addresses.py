"""Where a token may go: over HTTPS, or without TLS to loopback only."""
import pytest

from raycrafter_contract.addresses import is_loopback, token_may_go_to


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.8.9.10", "::1"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["example.org", "10.0.0.1", "0.0.0.0", "::", "", None,
                                  "localhost.example.org", "127.0.0.1.example.org"])
def test_every_other_host_is_not(host):
    assert not is_loopback(host)


@pytest.mark.parametrize("url", ["https://api.example.org", "https://10.0.0.1:8443/x",
                                 "http://127.0.0.1:8080", "http://localhost", "http://[::1]:80"])
def test_a_token_goes_over_https_or_in_clear_to_loopback(url):
    assert token_may_go_to(url)


@pytest.mark.parametrize("url", ["http://api.example.org", "http://10.0.0.1:8080",
                                 "http://localhost.example.org", "ftp://127.0.0.1",
                                 "127.0.0.1:8080", ""])
def test_a_token_never_goes_in_clear_elsewhere(url):
    assert not token_may_go_to(url)


@pytest.mark.parametrize("url, connect_to, allowed", [
    ("https://api.example.org", "login-ib.example.org", True),
    ("http://127.0.0.1:8080", "127.0.0.1", True),
    ("http://localhost:8080", "10.0.0.5", False),
    ("http://api.example.org", "127.0.0.1", False),
])
def test_in_clear_the_address_connected_to_must_be_loopback_too(url, connect_to, allowed):
    """Through a gateway the bytes go to ``connect_to``, whatever the URL names."""
    assert token_may_go_to(url, connect_to) is allowed
