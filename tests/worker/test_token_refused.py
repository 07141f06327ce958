"""A refused token (401) is read again from its file: the worker and the site agent carry
on with a replaced token without a restart, and while the file still holds the refused
one the call is transient, so that no job fails for it."""
import http.server
import json

import pytest

from raycrafter_worker.api_client import ApiClient
from raycrafter_worker.errors import TransientError
from support.loopback_http import serving


class TokenCheckingApi(http.server.ThreadingHTTPServer):
    """Answers GET /api/v1/site/commands to the token it accepts, 401 to any other."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.accepted = "the-new-token"
        self.seen = []


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        self.server.seen.append(token)
        status, body = (200, {"commands": []}) if token == self.server.accepted else (
            401, {"error": "unauthorized", "message": "unknown or revoked token",
                  "details": None})
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    with serving(TokenCheckingApi()) as server:
        yield server


def test_a_refused_token_is_read_again_from_its_file(api, tmp_path):
    token_file = tmp_path / "site.token"
    token_file.write_text("the-old-token\n")
    client = ApiClient(f"http://127.0.0.1:{api.server_port}", str(token_file))
    with pytest.raises(TransientError, match=f"refuses the token in {token_file}"):
        client.site_commands()
    assert api.seen == ["the-old-token"]
    token_file.write_text("the-new-token\n")
    assert client.site_commands() == ()
    # Refused once more, then the file's new token, within the one call; and from then on.
    assert api.seen == ["the-old-token", "the-old-token", "the-new-token"]
    client.site_commands()
    assert api.seen[-1] == "the-new-token" and len(api.seen) == 4
