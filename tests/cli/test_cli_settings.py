"""Where the CLI finds the API and its token, and how it says what is wrong with them."""
import http.server
import json
import threading

import pytest

from cli_harness import TlsProxy
from raycrafter_cli import exit_codes, settings

DEAD_URL = "http://127.0.0.1:9"  # the discard port: nothing listens there


def write_client_config(directory, text, mode=0o600):
    path = directory / ".config" / "raycrafter" / "client.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def listing(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_config_file_alone_is_enough(cli, home, api_server, user_token):
    write_client_config(home, f'url = "{api_server.base}"\ntoken = "{user_token}"\n')
    assert listing(cli.run("jobs", "--json", RAYCRAFTER_URL=None,
                           RAYCRAFTER_TOKEN=None))["jobs"] == []


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_config_file_with_a_token_others_can_read_is_refused(cli, home, api_server,
                                                               user_token, mode):
    path = write_client_config(home, f'url = "{api_server.base}"\ntoken = "{user_token}"\n',
                               mode)
    result = cli.run("jobs", RAYCRAFTER_URL=None, RAYCRAFTER_TOKEN=None)
    assert result.returncode == exit_codes.USAGE
    assert result.stderr == (f"raycrafter: {path} holds a token but is accessible by group or "
                             f"others (mode {mode:04o}); run: chmod 600 {path}\n")


def test_a_config_file_without_a_token_may_be_readable(cli, home, api_server):
    write_client_config(home, f'url = "{api_server.base}"\n', 0o644)
    assert listing(cli.run("jobs", "--json", RAYCRAFTER_URL=None))["total"] == 0


def test_a_token_file_is_read_relative_to_the_config_and_must_be_private(cli, home, api_server,
                                                                         user_token):
    config = write_client_config(home, f'url = "{api_server.base}"\ntoken_file = "token"\n',
                                 0o644)
    token_file = config.parent / "token"
    token_file.write_text(user_token + "\n")
    token_file.chmod(0o600)
    assert listing(cli.run("jobs", "--json", RAYCRAFTER_URL=None,
                           RAYCRAFTER_TOKEN=None))["total"] == 0
    token_file.chmod(0o640)
    result = cli.run("jobs", RAYCRAFTER_URL=None, RAYCRAFTER_TOKEN=None)
    assert result.returncode == exit_codes.USAGE
    assert f"{token_file} is a token file but is accessible by group or others" in result.stderr


def test_the_environment_wins_over_the_file(cli, home, api_server):
    write_client_config(home, f'url = "{DEAD_URL}"\ntoken = "{"x" * 43}"\n')
    assert listing(cli.run("jobs", "--json"))["total"] == 0
    only_url = cli.run("jobs", RAYCRAFTER_TOKEN=None)
    assert only_url.returncode == exit_codes.AUTH_FAILED, "the token came from the file"
    assert only_url.stderr == "raycrafter: unknown or revoked token\n"
    only_token = cli.run("jobs", RAYCRAFTER_URL=None)
    assert only_token.returncode == exit_codes.API_UNAVAILABLE, "the address came from the file"
    assert f"cannot reach {DEAD_URL}/api/v1: Connection refused" in only_token.stderr


def test_xdg_config_home_is_honoured(cli, tmp_path, api_server, user_token):
    config = tmp_path / "xdg" / "raycrafter" / "client.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'url = "{api_server.base}"\ntoken = "{user_token}"\n')
    config.chmod(0o600)
    assert listing(cli.run("jobs", "--json", XDG_CONFIG_HOME=str(tmp_path / "xdg"),
                           RAYCRAFTER_URL=None, RAYCRAFTER_TOKEN=None))["total"] == 0


def test_missing_settings_name_what_to_set(cli, home):
    no_url = cli.run("jobs", RAYCRAFTER_URL=None, RAYCRAFTER_TOKEN=None)
    assert no_url.returncode == exit_codes.USAGE
    assert no_url.stderr.startswith("raycrafter: no API address: set RAYCRAFTER_URL")
    assert str(home / ".config" / "raycrafter" / "client.toml") in no_url.stderr
    no_token = cli.run("jobs", RAYCRAFTER_TOKEN=None)
    assert no_token.returncode == exit_codes.USAGE
    assert no_token.stderr.startswith("raycrafter: no API token: set RAYCRAFTER_TOKEN")


@pytest.mark.parametrize("text, message", [
    ('url = "https://x"\ncolour = "blue"\n', "unknown key(s) colour"),
    ('url = "https://x"\ntoken = "a"\ntoken_file = "b"\n', "set `token` or `token_file`"),
    ("url = 443\n", "`url` must be a string"),
    ('url = "https://x\n', "is not valid TOML"),
])
def test_a_broken_config_file_is_explained(cli, home, text, message):
    write_client_config(home, text)
    result = cli.run("jobs", RAYCRAFTER_URL=None)
    assert result.returncode == exit_codes.USAGE
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("suffix", ["", "/", "/api/v1", "/api/v1/"])
def test_the_url_may_name_the_api_path_or_not(cli, api_server, suffix):
    assert listing(cli.run("jobs", "--json", RAYCRAFTER_URL=api_server.base + suffix))["total"] == 0


def test_a_bad_url_is_a_settings_error(cli):
    result = cli.run("jobs", RAYCRAFTER_URL="raycrafter.example.org")
    assert result.returncode == exit_codes.USAGE
    assert "RAYCRAFTER_URL: 'raycrafter.example.org' is not an http(s) address" in result.stderr


def test_tokens_the_api_refuses_exit_6(cli, cluster):
    unknown = cli.run("jobs", RAYCRAFTER_TOKEN="x" * 43)
    assert unknown.returncode == exit_codes.AUTH_FAILED
    assert unknown.stderr == "raycrafter: unknown or revoked token\n"
    worker = cli.run("jobs", RAYCRAFTER_TOKEN=cluster.worker_token)
    assert worker.returncode == exit_codes.AUTH_FAILED
    assert worker.stderr == "raycrafter: a worker token may not call this endpoint\n"


def test_an_api_nobody_answers_for_exits_7(cli):
    result = cli.run("status", 1, RAYCRAFTER_URL=DEAD_URL)
    assert result.returncode == exit_codes.API_UNAVAILABLE
    assert result.stderr == f"raycrafter: cannot reach {DEAD_URL}/api/v1: Connection refused\n"


@pytest.fixture
def redirecting_server():
    """What the appliance's port 80 does: send every request to HTTPS."""
    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(301)
            self.send_header("Location", f"https://127.0.0.1{self.path}")
            self.end_headers()

        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_a_redirect_is_reported_not_followed(cli, redirecting_server):
    result = cli.run("jobs", RAYCRAFTER_URL=redirecting_server)
    assert result.returncode == exit_codes.API_UNAVAILABLE
    assert result.stderr == (f"raycrafter: {redirecting_server}/api/v1 redirects to "
                             f"https://127.0.0.1/api/v1/jobs?limit=50; set RAYCRAFTER_URL (or "
                             f"`url`) to the appliance's https:// address\n")


@pytest.fixture
def tls_api(api_server, tmp_path):
    proxy = TlsProxy(api_server.port, tmp_path)
    yield proxy
    proxy.close()


def test_a_self_signed_appliance_needs_its_ca(cli, home, tls_api):
    untrusted = cli.run("jobs", RAYCRAFTER_URL=tls_api.base)
    assert untrusted.returncode == exit_codes.API_UNAVAILABLE
    assert "is not trusted (self-signed certificate); set RAYCRAFTER_CA" in untrusted.stderr
    trusted = cli.run("jobs", "--json", RAYCRAFTER_URL=tls_api.base, RAYCRAFTER_CA=tls_api.ca_file)
    assert listing(trusted)["total"] == 0
    write_client_config(home, f'ca_file = "{tls_api.ca_file}"\n')
    assert listing(cli.run("jobs", "--json", RAYCRAFTER_URL=tls_api.base))["total"] == 0
    missing = cli.run("jobs", RAYCRAFTER_URL=tls_api.base, RAYCRAFTER_CA=str(home / "nope.crt"))
    assert missing.returncode == exit_codes.USAGE
    assert f"RAYCRAFTER_CA: CA file {home / 'nope.crt'} does not exist" in missing.stderr


@pytest.mark.parametrize("url, warned", [
    ("https://raycrafter.example.org", False), ("http://127.0.0.1:8080", False),
    ("http://localhost", False), ("http://raycrafter.example.org", True),
])
def test_plain_http_beyond_this_machine_is_warned_about(url, warned):
    configured = settings.Settings(api_url=settings.api_url(url, "url"), token="t",
                                   ca_file=None, poll_seconds=1)
    assert (settings.cleartext_warning(configured) is not None) == warned
