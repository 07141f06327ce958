"""The one rule for retrying a call to the API, which the CLI, the worker and the node
agent all follow (raycrafter_contract.wire.retrying)."""
import datetime
import socket
import ssl

import pytest

from raycrafter_contract.wire.retrying import (MAX_RETRY_AFTER_SECONDS, delay_before_retry,
                                               no_answer_is_transient, retry_after_seconds,
                                               status_is_transient)

NOW = datetime.datetime(2026, 11, 22, 10, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504, 507, 599])
def test_statuses_that_say_not_now(status):
    assert status_is_transient(status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 415, 422, 501, 505])
def test_statuses_no_retry_mends(status):
    assert not status_is_transient(status)


@pytest.mark.parametrize("error", [ConnectionRefusedError(), ConnectionResetError(),
                                   socket.timeout(), TimeoutError(),
                                   socket.gaierror(socket.EAI_AGAIN, "try again"),
                                   ssl.SSLError("handshake cut short")])
def test_no_answer_is_worth_trying_again(error):
    assert no_answer_is_transient(error)


def test_but_not_a_certificate_nobody_vouches_for():
    assert not no_answer_is_transient(ssl.SSLCertVerificationError("self-signed"))


@pytest.mark.parametrize("header, seconds", [
    ("5", 5.0), (" 120 ", 120.0), ("0", 0.0),
    ("Sun, 22 Nov 2026 10:00:30 GMT", 30.0),     # an HTTP date
    ("Sun, 22 Nov 2026 09:59:00 GMT", 0.0),      # already past
    ("86400", MAX_RETRY_AFTER_SECONDS),          # no header parks a client for good
    (None, None), ("soon", None), ("-5", None), ("1.5", None), ("\u0665", None),
])
def test_retry_after_in_seconds_or_as_a_date(header, seconds):
    assert retry_after_seconds(header, now=NOW) == seconds


def test_a_retry_is_never_sooner_than_the_server_asked():
    assert delay_before_retry(0.5, None) == 0.5
    assert delay_before_retry(0.5, 5.0) == 5.0
    assert delay_before_retry(8.0, 5.0) == 8.0


def test_a_lease_about_to_run_out_caps_the_wait_for_the_server_not_the_backoff():
    assert delay_before_retry(0.5, 120.0, latest=20.0) == 20.0
    assert delay_before_retry(2.0, 120.0, latest=-3.0) == 2.0  # never a tight loop
    assert delay_before_retry(2.0, None, latest=60.0) == 2.0
