"""Helpers for the CLI tests: running the CLI and reading its output while it runs;
``FakeCluster``, which moves jobs along as the worker and the node agents do (through
their HTTP endpoints, with their tokens); and ``TlsProxy``, the appliance's TLS front."""
import select
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import zlib

from support.api_testing import Client, sha256, submit_as_worker, worker_transition

CLI = [sys.executable, "-m", "raycrafter_cli"]


def png(number, size=2):
    """A real PNG image, ``size`` pixels square, its colour set by ``number``."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    pixel = bytes([number * 40 % 256, 90, 200])
    rows = b"".join(b"\x00" + pixel * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


class FakeCluster:
    """The worker and a node agent of one job at a time, through the API."""

    def __init__(self, api_url, worker_token):
        self.api_url = api_url
        self.worker_token = worker_token
        self.worker = Client(api_url, worker_token)
        self.agents = {}

    def transition(self, job_id, to, **body):
        return worker_transition(self.worker, job_id, to, **body)

    def start(self, job_id):
        """pending -> staging -> submitted, with an agent token for the job."""
        token = submit_as_worker(self.worker, job_id, f"slurm-{job_id}")
        self.agents[job_id] = Client(self.api_url, token)

    def claim(self, job_id):
        response = self.agents[job_id].post(f"/agent/jobs/{job_id}/claim",
                                            json={"holder": "nid001"})
        assert response.status_code == 200 and response.json()["status"] == "leased", \
            response.text
        return response.json()

    def render_one(self, job_id):
        """Claim the next frame and complete it with its image; returns the frame number."""
        claim = self.claim(job_id)
        image = png(claim["frame"])
        response = self.agents[job_id].post(
            f"/agent/jobs/{job_id}/frames/{claim['frame']}/complete",
            json={"lease_id": claim["lease"]["id"], "render_seconds": 0.5,
                  "checksum": sha256(image), "size": len(image),
                  "log_tail": f"POV-Ray rendered frame {claim['frame']}"})
        assert response.status_code == 200, response.text
        return claim["frame"]

    def fail_one(self, job_id, reason, log_tail):
        claim = self.claim(job_id)
        response = self.agents[job_id].post(
            f"/agent/jobs/{job_id}/frames/{claim['frame']}/fail",
            json={"lease_id": claim["lease"]["id"], "reason": reason, "log_tail": log_tail})
        assert response.status_code == 200, response.text
        return claim["frame"]

    def upload(self, job_id, number):
        image = png(number)
        response = self.worker.put(f"/worker/jobs/{job_id}/frames/{number}/image", data=image,
                                   headers={"Content-Type": "image/png",
                                            "X-Checksum-Sha256": sha256(image)})
        assert response.status_code == 201, response.text

    def finish(self, job_id):
        """Render, collect and upload every frame; the job ends done."""
        self.start(job_id)
        numbers = [self.render_one(job_id) for _ in range(self.frame_count(job_id))]
        for number in numbers:
            self.upload(job_id, number)
        return self.transition(job_id, "done")

    def frame_count(self, job_id):
        return self.job(job_id)["frames"]["count"]

    def job(self, job_id):
        """The job as the worker sees it (its main scene file included)."""
        return self.worker.get(f"/worker/jobs/{job_id}").json()

    def input_of(self, job_id):
        response = self.worker.get(f"/worker/jobs/{job_id}/input")
        assert response.status_code == 200, response.text
        return response

    def close(self):
        for client in [self.worker, *self.agents.values()]:
            client.close()


class Cli:
    """Runs ``raycrafter`` (``python -m raycrafter_cli``) with a test's environment."""

    def __init__(self, env, cwd):
        self.env = env
        self.cwd = cwd

    def run(self, *args, timeout=60, **env):
        return subprocess.run(CLI + [str(a) for a in args], env=self._env(env), cwd=self.cwd,
                              capture_output=True, text=True, timeout=timeout)

    def start(self, *args, stdout=subprocess.PIPE, **env):
        return subprocess.Popen(CLI + [str(a) for a in args], env=self._env(env), cwd=self.cwd,
                                stdout=stdout, stderr=subprocess.PIPE,
                                preexec_fn=_interruptible)

    def _env(self, overrides):
        env = dict(self.env, **overrides)
        return {k: v for k, v in env.items() if v is not None}


def _interruptible():
    """Ctrl-C reaches the CLI as from a terminal even when the test run itself was started
    in the background, where a shell hands SIGINT down ignored (and Python then installs no
    KeyboardInterrupt handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class OutputReader:
    """Collects a process's output in a thread, so a test can wait for a line while it
    drives the job the process is watching."""

    def __init__(self, read_chunk):
        self.text = ""
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._pump, args=(read_chunk,), daemon=True)
        self._thread.start()

    def _pump(self, read_chunk):
        while chunk := read_chunk():
            with self._changed:
                self.text += chunk.decode("utf-8", "replace")
                self._changed.notify_all()

    def wait_for(self, fragment, timeout=30):
        with self._changed:
            if not self._changed.wait_for(lambda: fragment in self.text, timeout):
                raise AssertionError(f"{fragment!r} never appeared in:\n{self.text}")

    def join(self, timeout=30):
        self._thread.join(timeout)
        return self.text


class TlsProxy:
    """TLS in front of the API, as nginx is on the appliance, with a self-signed
    certificate made the way salt/nginx/certificate.sls makes the appliance's."""

    def __init__(self, upstream_port, directory):
        self.upstream_port = upstream_port
        self.ca_file = str(directory / "api.crt")
        key_file = str(directory / "api.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes",
                        "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-addext", "basicConstraints=critical,CA:TRUE",
                        "-keyout", key_file, "-out", self.ca_file],
                       check=True, capture_output=True)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(self.ca_file, key_file)
        self.port = 0
        self.resume()
        self.base = f"https://127.0.0.1:{self.port}"

    def pause(self):
        """Refuse connections, as a restarting appliance does."""
        self._listener.close()

    def resume(self):
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection):
        try:
            client = self._context.wrap_socket(connection, server_side=True)
        except (ssl.SSLError, OSError):  # the client did not trust the certificate
            connection.close()
            return
        with client, socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
            peers = {client: upstream, upstream: client}
            while True:
                readable, _, _ = select.select(list(peers), [], [], 30)
                if not readable:
                    return
                for source in readable:
                    data = source.recv(65536)
                    while isinstance(source, ssl.SSLSocket) and source.pending():
                        data += source.recv(source.pending())
                    if not data:
                        return
                    peers[source].sendall(data)

    close = pause
