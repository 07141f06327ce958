"""The metrics address a service's processes share, over TLS, and the multiprocess
directory only the first process of a service empties (raycrafter_contract.utilities.
metrics_endpoint)."""
import ssl
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request

import pytest

from raycrafter_contract.utilities import metrics_endpoint
from support.postgres import free_port


def saying(word):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [word.encode()]
    return app


def get(url, context=None):
    with urllib.request.urlopen(url, timeout=10, context=context) as answer:
        return answer.read().decode()


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1 made by Debian's openssl."""
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)


def test_served_over_tls_verified_against_its_certificate_and_not_in_plain_http(certificate):
    listen = f"127.0.0.1:{free_port()}"
    server = metrics_endpoint.serve(saying("metrics"), listen, *certificate)
    try:
        trusting = ssl.create_default_context(cafile=certificate[0])
        assert get(f"https://{listen}/metrics", trusting) == "metrics"
        with pytest.raises(urllib.error.URLError):
            get(f"https://{listen}/metrics", ssl.create_default_context())  # another CA
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            get(f"http://{listen}/metrics")
    finally:
        server.shutdown()


def test_the_processes_of_a_service_share_its_address_and_each_answers():
    listen = f"127.0.0.1:{free_port()}"
    servers = [metrics_endpoint.serve(saying(word), listen) for word in ("one", "two")]
    try:
        answers = {get(f"http://{listen}/metrics") for _ in range(60)}
    finally:
        for server in servers:
            server.shutdown()
    assert answers == {"one", "two"}


@pytest.mark.parametrize("address, valid", [
    ("127.0.0.1:9464", True), (":9464", True), ("[::1]:9464", True), ("9464", False),
    ("host:", False), ("host:0", False), ("host:70000", False), ("host:x", False)])
def test_a_listen_address_is_host_and_port(address, valid):
    assert metrics_endpoint.is_listen_address(address) is valid


MEMBER = textwrap.dedent("""
    import os, sys
    from raycrafter_contract.utilities import metrics_endpoint
    directory = metrics_endpoint.join_multiprocess_directory()
    open(os.path.join(directory, f"counter_{os.getpid()}.db"), "w").close()
    print("joined", flush=True)
    sys.stdin.read()
""")


def member(directory):
    """A process of the service: joins the directory, writes its file, lives until its
    stdin closes."""
    process = subprocess.Popen([sys.executable, "-c", MEMBER], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True,
                               env={"PROMETHEUS_MULTIPROC_DIR": str(directory),
                                    "PATH": "/usr/bin:/bin"})
    assert process.stdout.readline() == "joined\n"
    return process


def leave(process):
    process.stdin.close()
    process.wait(timeout=10)


def test_only_the_first_process_of_a_service_empties_its_directory(tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_1.db").write_text("a process that ended before the service stopped")
    first = member(directory)
    assert sorted(p.name for p in directory.glob("*.db")) == [f"counter_{first.pid}.db"]
    second = member(directory)
    leave(first)
    third = member(directory)  # the second still lives: nothing is emptied
    assert {p.name for p in directory.glob("*.db")} == {
        f"counter_{first.pid}.db", f"counter_{second.pid}.db", f"counter_{third.pid}.db"}
    leave(second)
    leave(third)
    fourth = member(directory)  # the service stopped: it starts from nothing
    assert sorted(p.name for p in directory.glob("*.db")) == [f"counter_{fourth.pid}.db"]
    leave(fourth)


def test_without_a_directory_nothing_is_joined(monkeypatch):
    monkeypatch.delenv(metrics_endpoint.DIRECTORY_VARIABLE, raising=False)
    assert metrics_endpoint.join_multiprocess_directory() is None
