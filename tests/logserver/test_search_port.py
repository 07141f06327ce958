"""`raycrafter-admin logs` asking the log server's search port, as the web host does: over
TLS verified against the CA by the log host's name, with the deployment's search token,
across a rotation, with --since, and following new records; a wrong token, an unreachable
log host and a bad option each a clear error and a non-zero exit."""
import os
import socket
import ssl
import subprocess
import sys
import time

from raycrafter_logserver.records import rotated_files

from support.certificates import ThrowawayCa
from support.polling import wait_for

from .conftest import frame
from .test_log_server import record
from .test_retention_and_search import assert_follows_across_a_rotation


def search_settings(directory, server, ca_file="", token=None, port=None):
    """The settings file Salt writes on the web host (mode 0600)."""
    os.makedirs(str(directory), exist_ok=True)
    path = os.path.join(str(directory), "log-search.toml")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(f'host = "localhost"\nport = {port or server.search_port}\n'
                     f'ca_file = "{ca_file}"\ntoken = "{token or server.search_token}"\n')
    return path


def admin_logs(settings, *options, **popen):
    command = [sys.executable, "-m", "raycrafter_api.admin.cli", "logs", *options]
    environment = dict(os.environ, RAYCRAFTER_LOG_SEARCH_CONFIG=settings)
    if popen:
        return subprocess.Popen(command, env=environment, **popen)
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60)


def tls_server(log_server, tmp_path, **settings):
    """A log server taking records and searches over TLS, and the web host's settings."""
    ca = ThrowawayCa(tmp_path / "ca")
    certificate = ca.issue("localhost")
    server = log_server(cert_file=certificate.cert_file, key_file=certificate.key_file,
                        search=True, **settings)
    server.ca_file = ca.cert_file
    return server, search_settings(tmp_path, server, ca_file=ca.cert_file)


def send(server, *frames):
    """Send the frames over one TLS connection, as a node agent does, and close it once
    the server has read them."""
    context = ssl.create_default_context(cafile=str(server.ca_file))
    with socket.create_connection(("localhost", server.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"".join(frames))
            tls.shutdown(socket.SHUT_WR)
            while tls.recv(4096):
                pass


def test_the_web_host_finds_a_jobs_records_across_a_rotation_since_a_time(log_server, tmp_path):
    server, settings = tls_server(log_server, tmp_path, rotate_bytes=1024)
    seven, eight = server.credential(7), server.credential(8)
    now = time.time()
    send(server,
         frame(record("claimed frame 1", seven, _frame=1, timestamp=now - 3600)),
         frame(record("Parse Error in scene.pov", seven, _frame=2, level=3,
                      level_name="ERROR", timestamp=now)),
         frame(record("rendered frame 2 " + "z" * 1200, seven, _frame=2, timestamp=now)),
         frame(record("another job's line", eight, timestamp=now)),
         )
    wait_for(lambda: rotated_files(server.records_file), timeout=20, message="a rotation")
    send(server, frame(record("after the rotation", seven, _frame=3, timestamp=now)))
    server.wait_for(lambda rs: any(r["short_message"] == "after the rotation" for r in rs))

    def lines(*options):
        found = admin_logs(settings, *options)
        assert found.returncode == 0, found.stderr
        return [line.split(": ", 1)[1][:24] for line in found.stdout.splitlines()]

    assert lines("--job", "7") == ["claimed frame 1", "Parse Error in scene.pov",
                                   "rendered frame 2 zzzzzzz", "after the rotation"]
    assert lines("--job", "7", "--since", "30m") == [
        "Parse Error in scene.pov", "rendered frame 2 zzzzzzz", "after the rotation"]
    assert lines("--job", "7", "--level", "error") == ["Parse Error in scene.pov"]
    assert lines("--grep", "ANOTHER") == ["another job's line"]
    # The same records, the same lines, as raycrafter-logs prints on the log host.
    on_the_log_host = subprocess.run(
        [sys.executable, "-m", "raycrafter_logserver.search", "--config", server.config_file,
         "--job", "7"], capture_output=True, text=True, timeout=60)
    assert admin_logs(settings, "--job", "7").stdout == on_the_log_host.stdout


def test_following_over_the_wire_shows_new_records_across_a_rotation(log_server, tmp_path):
    server, settings = tls_server(log_server, tmp_path, rotate_bytes=1024)
    credential = server.credential(9)
    send(server, frame(record("before", credential)))
    server.wait_for(lambda rs: len(rs) == 1)
    follower = admin_logs(settings, "--job", "9", "--follow", stdout=subprocess.PIPE,
                          text=True)
    assert_follows_across_a_rotation(follower, server, credential, send)
    # The server ends the search its client left, and goes on serving others.
    assert admin_logs(settings, "--job", "9").stdout.count("\n") == 3


def test_a_wrong_token_an_unreachable_host_and_a_bad_option_are_clear_errors(log_server,
                                                                           tmp_path):
    server, settings = tls_server(log_server, tmp_path)
    wrong = admin_logs(search_settings(tmp_path / "wrong", server, token="x" * 43,
                                       ca_file=tmp_path / "ca" / "ca.pem"), "--job", "1")
    assert wrong.returncode == 1
    assert "refused the search: not the deployment's log search token" in wrong.stderr
    assert "search from 127.0.0.1 refused" in server.output()

    server.stop()
    gone = admin_logs(settings, "--job", "1")
    assert gone.returncode == 1
    assert f"cannot reach the log server at localhost:{server.search_port}" in gone.stderr

    bad = admin_logs(settings, "--since", "yesterday")
    assert bad.returncode == 2 and "--since 'yesterday'" in bad.stderr
    missing = admin_logs(str(tmp_path / "nowhere.toml"), "--job", "1")
    assert missing.returncode == 2 and "cannot read config file" in missing.stderr


def test_plain_text_is_not_served_on_a_tls_search_port(log_server, tmp_path):
    server, _ = tls_server(log_server, tmp_path)
    plain = admin_logs(search_settings(tmp_path / "plain", server), "--job", "1")
    assert plain.returncode == 1 and "log server" in plain.stderr
    assert plain.stdout == ""
