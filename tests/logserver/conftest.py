"""The log server as a process of each test's own (support.log_server), and what a test
sends it: GELF records over TCP, as the node agent frames them."""
import json
import socket

import pytest

from support.log_server import LogServerProcess


@pytest.fixture
def log_server(tmp_path):
    """Starts a log server with the given settings (LogServerProcess's); each is stopped
    after the test."""
    started = []

    def start(name="logserver", **settings):
        server = LogServerProcess(tmp_path / name, **settings).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def frame(record):
    """A GELF record as it travels over TCP: its JSON and a NUL byte."""
    return json.dumps(record).encode() + b"\0"


def send(server, *frames, port=None):
    """Send the frames over one connection and close it once the server has read them
    (it closes its side when it sees ours end)."""
    with socket.create_connection(("127.0.0.1", port or server.port), timeout=10) as sock:
        sock.sendall(b"".join(frames))
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(30)
        while sock.recv(4096):
            pass
