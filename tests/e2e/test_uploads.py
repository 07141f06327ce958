"""Bodies are checked before they are read: through the appliance's real nginx, an upload
without a user token and an oversized one, and a body from a stranger on any other route,
are refused while the client has sent only the first bytes of the body, in the API's JSON
error shape (tests/api/test_api_front_door.py measures every route, and the limits, on a
rendering of the same template)."""
import json
import socket
import ssl

import pytest

from conftest import CA_FILE

pytestmark = pytest.mark.e2e

DECLARED = 100 * 1024 * 1024  # what the client says it will send
SENT = 64 * 1024  # what it sends before it waits for an answer


def post_head_start(headers, length, path="/api/v1/jobs"):
    """POST to ``path`` declaring ``length`` bytes, send SENT of them, and return the
    status and JSON body nginx answers with before the rest."""
    context = ssl.create_default_context(cafile=CA_FILE)
    with socket.create_connection(("127.0.0.1", 443), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        head = [f"POST {path} HTTP/1.1", "Host: localhost",
                "Content-Type: multipart/form-data; boundary=x",
                f"Content-Length: {length}", *headers, "", ""]
        tls.sendall("\r\n".join(head).encode())
        try:
            tls.sendall(b"\0" * SENT)
        except OSError:
            pass  # nginx may close its side as soon as it has answered
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < 20:
            chunk = tls.recv(65536)
            if not chunk:
                break
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    body = answer.split(b"\r\n\r\n", 1)[1]
    start = body.index(b"{")
    return status, json.loads(body[start:body.rindex(b"}") + 1])


def test_an_upload_without_a_user_token_is_refused_unread():
    status, body = post_head_start([], DECLARED)
    assert status == 401 and body["error"] == "unauthorized"
    status, body = post_head_start(["Authorization: Bearer not-a-token"], DECLARED)
    assert status == 401


def test_an_oversized_upload_is_refused_unread_in_the_apis_words(researcher):
    status, body = post_head_start([f"Authorization: Bearer {researcher.token}"],
                                   10 * 1024 * 1024 * 1024)
    assert status == 413
    assert body["error"] == "too_large" and body["details"]["limit"] > DECLARED


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/agent/jobs/1/claim",
                                  "/api/v1/worker/jobs/1/frames/1/image"])
def test_a_body_from_a_stranger_is_refused_unread_on_every_route(path):
    for headers in ([], ["Authorization: Bearer not-a-token"]):
        status, body = post_head_start(headers, 1024 * 1024, path)
        assert (status, body["error"]) == (401, "unauthorized")
