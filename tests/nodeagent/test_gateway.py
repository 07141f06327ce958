"""raycrafter-gateway, the login node's relay for compute nodes without a way out: TLS
stays end to end (a node agent connecting to the gateway verifies the API's certificate
by the API's name, and its token travels inside TLS), the upstream sees the login node's
own address, and the gateway ends by itself when idle."""
import contextlib
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys

import pytest
from raycrafter_contract.utilities.http_client import ApiConnection, NoAnswer

from support.loopback_http import serving
from support.polling import wait_for

from support.certificates import ThrowawayCa


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    """Answers with what it was sent: the Host and Authorization headers, and who called."""

    def do_GET(self):
        body = json.dumps({"host": self.headers["Host"], "auth": self.headers["Authorization"],
                           "peer": self.client_address[0]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def tls_api(tmp_path):
    """An HTTPS server on loopback with a certificate for the given name."""
    ca = ThrowawayCa(tmp_path / "ca")
    with contextlib.ExitStack() as servers:
        def start(name):
            certificate = ca.issue(name)
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certificate.cert_file, certificate.key_file)
            server.socket = context.wrap_socket(server.socket, server_side=True)
            server.ca_file = str(ca.cert_file)
            return servers.enter_context(serving(server))

        yield start


@pytest.fixture
def gateway(tmp_path):
    """Starts raycrafter-gateway with the given routes; stops it afterwards."""
    started = []

    def start(*routes, idle=30, source=None):
        pid_file = tmp_path / f"gateway-{len(started)}.pid"
        arguments = [sys.executable, "-m", "raycrafter_nodeagent.gateway",
                     "--idle-seconds", str(idle), "--pid-file", str(pid_file)]
        for route in routes:
            arguments += ["--route", route]
        if source:
            arguments += ["--source", source]
        process = subprocess.Popen(arguments, stderr=subprocess.PIPE, text=True)
        process.pid_file = pid_file
        started.append(process)
        wait_for(lambda: pid_file.exists() or process.poll() is not None, timeout=10,
                 message="the gateway listening")
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def test_tls_goes_end_to_end_through_the_gateway_under_the_apis_name(tls_api, gateway):
    api = tls_api("api.test")
    port = free_port()
    gateway(f"127.0.0.1:{port}=127.0.0.1:{api.server_port}", source="127.0.0.2")
    behind = ApiConnection(f"https://api.test:{api.server_port}/api/v1", "s3cret",
                           api.ca_file, 10, "t/1", connect_to=("127.0.0.1", port))
    answer = behind.call("GET", "/health")
    assert answer == {"host": f"api.test:{api.server_port}", "auth": "Bearer s3cret",
                      "peer": "127.0.0.2"}


def test_a_server_without_the_apis_name_is_refused_through_the_gateway(tls_api, gateway):
    impostor = tls_api("impostor.test")
    port = free_port()
    gateway(f"127.0.0.1:{port}=127.0.0.1:{impostor.server_port}")
    behind = ApiConnection(f"https://api.test:{impostor.server_port}/api/v1", "s3cret",
                           impostor.ca_file, 10, "t/1", connect_to=("127.0.0.1", port))
    with pytest.raises(NoAnswer) as refused:
        behind.call("GET", "/health")
    assert refused.value.untrusted and not refused.value.transient


def test_an_idle_gateway_ends_by_itself_and_takes_its_pid_file_with_it(gateway, tls_api):
    api = tls_api("api.test")
    port = free_port()
    process = gateway(f"127.0.0.1:{port}=127.0.0.1:{api.server_port}", idle=1)
    assert process.pid_file.read_text().strip() == str(process.pid)
    assert process.wait(timeout=20) == 0
    assert not process.pid_file.exists()
    assert "no connection for 1 s: stopping" in process.stderr.read()


def test_a_second_gateway_on_the_same_address_exits_at_once(gateway, tls_api):
    api = tls_api("api.test")
    route = f"127.0.0.1:{free_port()}=127.0.0.1:{api.server_port}"
    first = gateway(route)
    second = gateway(route)
    assert second.wait(timeout=10) == 3
    assert "Address already in use" in second.stderr.read()
    assert first.poll() is None and not second.pid_file.exists()
    assert os.path.exists(first.pid_file)
