"""The API as several processes sharing one port (``raycrafter-api``, SO_REUSEPORT): each
takes its share of the connections, and they answer alike."""
import socket
import subprocess

from support.api_server import ApiServer, write_config

CONNECTIONS = 24


def serving_pids(port):
    """The processes holding the server side of established connections to ``port``."""
    listing = subprocess.run(["ss", "-Htnp", "state", "established", f"( sport = :{port} )"],
                             capture_output=True, text=True, check=True).stdout
    return {int(part.split(",")[0]) for part in listing.split("pid=")[1:]}


def test_two_processes_share_the_port_and_each_takes_connections(tmp_path, database_url):
    config = write_config(tmp_path / "api.toml", database_url=database_url,
                          data_dir=str(tmp_path / "data"))
    with ApiServer(config, threads=4, processes=2) as api:
        connections = []
        try:
            for _ in range(CONNECTIONS):
                connection = socket.create_connection(("127.0.0.1", api.port), timeout=10)
                connection.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
                assert connection.recv(65536).startswith(b"HTTP/1.1 200 ")
                connections.append(connection)
            assert serving_pids(api.port) == {process.pid for process in api.processes}
        finally:
            for connection in connections:
                connection.close()
