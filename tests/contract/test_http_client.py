"""The HTTP helper the CLI, the worker and the node agent share
(raycrafter_contract.utilities.http_client), against a scripted server on loopback: each
answer becomes its record or is sorted by the contract's retry rule; and the three
clients, each over the helper, take the same answers as transient (the node agent once
took a 429 for a refusal and gave up)."""
import http.server
import json
import socket
import types

import pytest

from raycrafter_cli import http as cli_http
from raycrafter_contract.utilities.http_client import (ApiConnection, ErrorAnswer, NoAnswer,
                                                       Redirected, UnexpectedAnswer,
                                                       UnreadableAnswer)
from raycrafter_contract.wire.agent_calls import ClaimEnded, ClaimWait, parse_claim_answer
from raycrafter_nodeagent import api_client as agent_client
from raycrafter_worker import api_client as worker_client
from raycrafter_worker.errors import ApiConflict, PermanentError, TransientError
from support.loopback_http import serving


class Scripted(http.server.ThreadingHTTPServer):
    """Answers every request with ``answer`` (status, headers, body) and keeps what it
    was sent."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = (200, {}, b"{}")
        self.requests = []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_port}"


class _Handler(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.server.requests.append((self.command, self.path, dict(self.headers),
                                     self.rfile.read(length)))
        status, headers, body = self.server.answer
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    with serving(Scripted()) as scripted:
        yield scripted


def json_answer(status, document, **headers):
    return status, {"Content-Type": "application/json", **headers}, json.dumps(document).encode()


def error(status, code, **headers):
    return json_answer(status, {"error": code, "message": f"{code} said", "details": None},
                       **headers)


@pytest.fixture
def api(server):
    return ApiConnection(server.url + "/api/v1", "t0ken", None, 5, "test-client/1")


def test_a_call_sends_the_token_and_json_and_reads_the_answer_as_its_record(server, api):
    server.answer = json_answer(200, {"status": "wait", "retry_after": 3})
    assert api.call("POST", "/agent/jobs/1/claim", {"holder": "n1"},
                    parse_claim_answer) == ClaimWait(3)
    method, path, headers, body = server.requests[-1]
    assert (method, path, json.loads(body)) == ("POST", "/api/v1/agent/jobs/1/claim",
                                                {"holder": "n1"})
    assert headers["Authorization"] == "Bearer t0ken"
    assert headers["User-Agent"] == "test-client/1"
    assert headers["Content-Type"] == "application/json"


def test_connect_to_reaches_another_address_under_the_urls_name(server):
    """curl's --connect-to: the call goes to ``connect_to``; the URL's host is still the
    one the request names (and the one TLS would verify)."""
    server.answer = json_answer(200, {"status": "finished"})
    behind = ApiConnection("http://api.invalid:4711/api/v1", "t0ken", None, 5, "t/1",
                           connect_to=("127.0.0.1", server.server_port))
    assert behind.call("POST", "/agent/jobs/1/claim", {"holder": "n1"},
                       parse_claim_answer) == ClaimEnded("finished")
    _, path, headers, _ = server.requests[-1]
    assert (path, headers["Host"]) == ("/api/v1/agent/jobs/1/claim", "api.invalid:4711")


def test_429_with_retry_after_is_transient_and_says_how_long(server, api):
    server.answer = error(429, "too_many_requests", **{"Retry-After": "7"})
    with pytest.raises(ErrorAnswer) as failure:
        api.call("GET", "/jobs")
    assert failure.value.transient and failure.value.retry_after == 7.0
    assert (failure.value.status, failure.value.body.error, failure.value.shaped) == (
        429, "too_many_requests", True)


def test_an_answer_not_in_the_error_shape_is_given_one(server, api):
    server.answer = (502, {"Content-Type": "text/html"}, b"<h1>Bad Gateway</h1>")
    with pytest.raises(ErrorAnswer) as failure:
        api.call("GET", "/jobs")
    assert failure.value.transient and not failure.value.shaped
    assert failure.value.body.error == "http_502" and failure.value.retry_after is None


def test_a_conflict_is_not_transient_and_keeps_the_apis_code(server, api):
    server.answer = error(409, "stale_lease")
    with pytest.raises(ErrorAnswer) as failure:
        api.call("POST", "/agent/jobs/1/frames/2/complete", {})
    assert not failure.value.transient and failure.value.body.error == "stale_lease"


def test_a_redirect_is_reported_not_followed(server, api):
    server.answer = (301, {"Location": "https://127.0.0.1/api/v1/jobs"}, b"")
    with pytest.raises(Redirected) as failure:
        api.call("POST", "/jobs", {})
    assert failure.value.location == "https://127.0.0.1/api/v1/jobs"
    assert not failure.value.transient
    assert [request[0] for request in server.requests] == ["POST"]


def test_an_answer_that_is_not_json_is_transient(server, api):
    server.answer = (200, {"Content-Type": "text/html"}, b"<html>maintenance</html>")
    with pytest.raises(UnreadableAnswer) as failure:
        api.call("GET", "/jobs")
    assert failure.value.transient


def test_json_outside_the_protocol_is_not(server, api):
    server.answer = json_answer(200, {"status": "wait"})
    with pytest.raises(UnexpectedAnswer, match=r"ClaimWait\.retry_after is missing"):
        api.call("POST", "/agent/jobs/1/claim", {}, parse_claim_answer)


def test_an_answer_holding_a_number_that_is_not_finite_is_outside_the_protocol(server, api):
    server.answer = (200, {"Content-Type": "application/json"},
                     b'{"status": "wait", "retry_after": NaN}')
    with pytest.raises(UnexpectedAnswer, match=r"retry_after must be a finite number, not "
                                               r"NaN") as failure:
        api.call("POST", "/agent/jobs/1/claim", {}, parse_claim_answer)
    assert not failure.value.transient


def test_no_answer_at_all_is_transient():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(NoAnswer) as failure:
        ApiConnection(f"http://127.0.0.1:{port}", "t", None, 5, "x").call("GET", "/jobs")
    assert failure.value.transient and not failure.value.untrusted


@pytest.fixture
def clients(server, tmp_path):
    """The three clients, each pointed at the scripted server."""
    token_file = tmp_path / "worker.token"
    token_file.write_text("t0ken\n")
    settings = types.SimpleNamespace(api_url=server.url + "/api/v1", token="t0ken",
                                     ca_file=None)
    return {"cli": cli_http.Api(settings, timeout=5),
            "worker": worker_client.ApiClient(server.url, str(token_file)),
            "agent": agent_client.ApiClient(server.url, 1, "t0ken", None, 5)}


def call(clients, name):
    """One call of each client; returns the failure it raised."""
    try:
        {"cli": lambda api: api.job(1), "worker": lambda api: api.get_job(1),
         "agent": lambda api: api.claim("n1", 4)}[name](clients[name])
    except Exception as raised:  # what each client makes of the failure
        return raised
    raise AssertionError(f"{name} raised nothing")


TRANSIENT = {"cli": lambda e: isinstance(e, cli_http.ApiError) and e.transient,
             "worker": lambda e: isinstance(e, TransientError),
             "agent": lambda e: isinstance(e, agent_client.ApiUnavailable)}
REFUSED = {"cli": lambda e: isinstance(e, cli_http.ApiError) and not e.transient,
           "worker": lambda e: isinstance(e, PermanentError)
           and not isinstance(e, ApiConflict),
           "agent": lambda e: isinstance(e, agent_client.ApiRefused)}


@pytest.mark.parametrize("name", ["cli", "worker", "agent"])
@pytest.mark.parametrize("status", [429, 500, 503])
def test_the_three_clients_retry_the_same_answers_no_sooner_than_asked(server, clients, name,
                                                                       status):
    server.answer = error(status, "busy", **{"Retry-After": "4"})
    failure = call(clients, name)
    assert TRANSIENT[name](failure), repr(failure)
    assert failure.retry_after == 4.0


@pytest.mark.parametrize("name", ["cli", "worker", "agent"])
@pytest.mark.parametrize("status", [400, 403, 501])
def test_and_give_up_on_the_same_answers(server, clients, name, status):
    server.answer = error(status, "no")
    assert REFUSED[name](call(clients, name))
