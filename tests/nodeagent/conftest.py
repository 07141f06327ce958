"""Real pieces for the node agent's tests: the API (waitress + SQLite), POV-Ray, the log
server, and the agent itself as a subprocess, exactly as a batch job starts it.

The test plays the worker: it creates a job as a user, moves it to ``submitted`` with the
worker's token, lays out the job's scratch directory and writes the agent token and the
log credential (0600). The API and the log server share a throwaway credential key.
"""

import json
import os
import re
import secrets
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from raycrafter_contract.naming import PNG_SIGNATURE

from support import api_server
from support.api_server import ApiServer, create_user, ensure_worker_token, write_config
from support.log_server import LogServerProcess
from support.polling import wait_for

SCENES = Path(__file__).parent / "scenes"
# A stand-in for an operator's renderer, for --renderer-command templates.
FLAT_PNG_RENDERER = Path(__file__).parent / "tools" / "flat_png_renderer.py"
# Runs a command on what looks, to it and everything it starts, like a kernel without
# Landlock (a seccomp filter makes the Landlock calls fail with ENOSYS).
WITHOUT_LANDLOCK = Path(__file__).parent / "tools" / "without_landlock.py"
BATCH_JOB_ID = "4242"
# Options that make the example scene take several seconds per frame on one thread, for
# tests that must act while a frame is being rendered.
SLOW = {"width": 480, "height": 360,
        "options": {"antialias": True, "antialias_threshold": 0.0, "antialias_depth": 9}}
# About a minute per frame on one thread: for tests that must see the renderer stopped
# long before it could have finished.
SLOWER = dict(SLOW, width=1600, height=1200)


def png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == PNG_SIGNATURE, "%s is not a PNG" % path
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


CLAIM_LINE = re.compile(r"claimed frames? (\d+)(?:-(\d+))?, attempt (\d+), lease (\S+) ")


def claims_in(output):
    """[(frame, attempt, lease id)] for every frame of every chunk an agent's log says it
    claimed, in order (one line per claim: "claimed frame 1, ..." or "frames 2-5")."""
    claims = []
    for match in CLAIM_LINE.finditer(output):
        first = int(match.group(1))
        last = int(match.group(2) or first)
        claims += [(n, int(match.group(3)), match.group(4)) for n in range(first, last + 1)]
    return claims


def running(pid):
    """Whether the process exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


class Api:
    """The API server plus the calls a test needs as a user and as the worker."""

    def __init__(self, tmp_path, **settings):
        self.database = tmp_path / "api.db"
        config = dict(database_url="sqlite:///%s" % self.database,
                      data_dir=str(tmp_path / "api-data"), amqp_url="", lease_seconds=60,
                      max_attempts=3)
        config.update(settings)
        self.config_path = write_config(tmp_path / "api.toml", **config)
        self.server = ApiServer(self.config_path).start()
        self.user_token = create_user(self.config_path, "alice")
        self.worker_token = ensure_worker_token(self.config_path)

    @property
    def root(self):
        """What the agent gets as --api-url: it adds /api/v1 itself."""
        return self.server.base

    def stop(self):
        self.server.stop()

    def restart_on_same_port(self, monkeypatch):
        """Start the server again where the agent expects it (same port, same database)."""
        port = self.server.port
        monkeypatch.setattr(api_server, "_free_port", lambda: port)
        self.server.start()

    def call(self, method, path, token, body=None, content_type="application/json"):
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server.url + path, data=data, method=method,
                                         headers={"Authorization": "Bearer " + token})
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            raise AssertionError("%s %s -> %d %s" % (method, path, error.code, error.read()))
        return json.loads(payload) if payload[:1] in (b"{", b"[") else payload.decode()

    def create_job(self, scene, frames="1-6", width=64, height=48, options=None,
                   upload_name="scene.pov"):
        """Submit ``scene`` (a file) as ``upload_name``; a None field is left out."""
        boundary = uuid.uuid4().hex
        fields = {"name": "agent test", "frames": frames, "width": width, "height": height,
                  "renderer": "povray", "options": json.dumps(options or {})}
        parts = [b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                 % (boundary.encode(), name.encode(), str(value).encode())
                 for name, value in fields.items() if value is not None]
        parts.append(b'--%s\r\nContent-Disposition: form-data; name="scene"; '
                     b'filename="%s"\r\nContent-Type: application/octet-stream\r\n\r\n'
                     % (boundary.encode(), upload_name.encode())
                     + Path(scene).read_bytes() + b"\r\n")
        body = b"".join(parts) + b"--%s--\r\n" % boundary.encode()
        job = self.call("POST", "/jobs", self.user_token, body,
                        "multipart/form-data; boundary=" + boundary)
        return job["id"]

    def submit(self, job_id):
        """What the worker does around qsub/sbatch; returns the fresh agent token."""
        return self.submission(job_id)["agent_token"]

    def submission(self, job_id):
        """The same; returns the submission (its agent token and log credential)."""
        self.call("POST", "/worker/jobs/%d/transition" % job_id, self.worker_token,
                  {"to": "staging"})
        submission = self.call("POST", "/worker/jobs/%d/submissions" % job_id,
                               self.worker_token, {})
        self.call("POST", "/worker/jobs/%d/transition" % job_id, self.worker_token,
                  {"to": "submitted", "batch_job_id": BATCH_JOB_ID})
        return submission

    def use_renderer(self, job_id, name):
        """Make a job ask for the command renderer ``name``.

        The API accepts only ``povray`` from users so far, so the test writes the job's
        ``renderer`` column, which the claim answer hands to the agent, itself.
        """
        with sqlite3.connect(self.database) as database:
            changed = database.execute("UPDATE job SET renderer = ? WHERE id = ?",
                                       (name, job_id)).rowcount
        database.close()
        assert changed == 1

    def cancel(self, job_id):
        return self.call("POST", "/jobs/%d/cancel" % job_id, self.user_token)

    def job(self, job_id):
        return self.call("GET", "/jobs/%d" % job_id, self.user_token)

    def frames(self, job_id):
        return {f["number"]: f for f in
                self.call("GET", "/jobs/%d/frames" % job_id, self.user_token)["frames"]}

    def frame_log(self, job_id, number):
        return self.call("GET", "/jobs/%d/frames/%d/log" % (job_id, number), self.user_token)

    def events(self, job_id):
        return self.call("GET", "/jobs/%d/events?limit=500" % job_id, self.user_token)["events"]


class Agent:
    """One node agent process with its stderr in a file."""

    def __init__(self, job_dir, api, job_id, name, extra_args=(), log_receiver=None,
                 without_landlock=False):
        self.name = name
        self.stderr_path = Path(job_dir) / "logs" / ("agent-%s.log" % name)
        launcher = [sys.executable, str(WITHOUT_LANDLOCK)] if without_landlock else []
        argv = [*launcher, sys.executable, "-m", "raycrafter_nodeagent", "--api-url", api.root,
                "--job-id", str(job_id), "--job-dir", str(job_dir), "--holder", name,
                "--threads", "1", "--slots", "1", *extra_args]
        if log_receiver is not None:
            argv += ["--log-host", "127.0.0.1", "--log-port", str(log_receiver.port)]
        env = dict(os.environ, SLURM_JOB_ID=BATCH_JOB_ID)
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                            stdout=stderr, stderr=subprocess.STDOUT)

    def output(self):
        return self.stderr_path.read_text(errors="replace")

    def wait(self, timeout=120):
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError("agent %s did not exit:\n%s" % (self.name, self.output()))

    def wait_for_output(self, text, timeout=60):
        def seen():
            if text in self.output():
                return True
            if self.process.poll() is not None:
                raise AssertionError("agent %s exited with %s before printing %r:\n%s"
                                     % (self.name, self.process.returncode, text, self.output()))
            return False
        wait_for(seen, timeout=timeout, interval=0.05, message="%r from agent %s" % (text, self.name))

    def renderer_pids(self):
        """The agent's child processes (the renderer), read from /proc."""
        return _children(self.process.pid)

    def renderer_tree(self):
        """The renderer and every process it started, read from /proc."""
        found, parents = [], [self.process.pid]
        while parents:
            children = _children(parents.pop())
            found += children
            parents += children
        return found

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _children(pid):
    try:
        return [int(child) for child in
                Path("/proc/%d/task/%d/children" % (pid, pid)).read_text().split()]
    except OSError:
        return []


def make_job_dir(scratch, job_id, scene, agent_token, log_credential=None):
    """SCRATCH/raycrafter/JOB_ID with input/scene.pov, frames/, logs/, agent.token and,
    if there is one, log.credential (both 0600)."""
    job_dir = Path(scratch) / "raycrafter" / str(job_id)
    for sub in ("input", "frames", "logs"):
        (job_dir / sub).mkdir(parents=True)
    (job_dir / "input" / "scene.pov").write_bytes(Path(scene).read_bytes())
    secrets_of_job = {"agent.token": agent_token, "log.credential": log_credential}
    for name, text in secrets_of_job.items():
        if text is not None:
            fd = os.open(job_dir / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(text + "\n")
    return job_dir


class Setup:
    """Everything one test needs, cleaned up afterwards whatever happened."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.log_key = secrets.token_urlsafe(32)  # the API's and the log server's
        self.api = None
        self.receiver = None
        self.agents = []
        self.orphans = []

    def start_api(self, **settings):
        self.api = Api(self.tmp_path, **dict({"log_credential_key": self.log_key}, **settings))
        return self.api

    def start_receiver(self, certificate=None):
        """The log server; over TLS with a ``support.certificates.ServerCertificate``."""
        tls = {} if certificate is None else dict(cert_file=certificate.cert_file,
                                                  key_file=certificate.key_file)
        self.receiver = LogServerProcess(self.tmp_path / "gelf", key=self.log_key,
                                         **tls).start()
        return self.receiver

    def job(self, scene="sphere.pov", renderer=None, **job_fields):
        """A submitted job and its scratch directory: (job_id, job_dir). ``renderer``
        names a command renderer the agent is given with --renderer-command."""
        job_id = self.api.create_job(SCENES / scene, **job_fields)
        if renderer is not None:
            self.api.use_renderer(job_id, renderer)
        submission = self.api.submission(job_id)
        return job_id, make_job_dir(self.tmp_path / "scratch", job_id, SCENES / scene,
                                    submission["agent_token"],
                                    submission.get("log_credential"))

    def agent(self, job_dir, job_id, name, *extra_args, log=False, without_landlock=False):
        """The agent; ``without_landlock`` runs it on a kernel that refuses Landlock."""
        agent = Agent(job_dir, self.api, job_id, name, extra_args,
                      self.receiver if log else None, without_landlock)
        self.agents.append(agent)
        return agent

    def close(self):
        for agent in self.agents:
            agent.stop()
        for pid in self.orphans:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.receiver is not None:
            self.receiver.stop()
        if self.api is not None:
            self.api.stop()


@pytest.fixture
def setup(tmp_path):
    world = Setup(tmp_path)
    try:
        yield world
    finally:
        world.close()


@pytest.fixture(scope="session")
def node_name():
    return socket.gethostname()


class WorkDirSampler:
    """What the renderers' work directories (``frames/.work-*``) hold, sampled every
    few milliseconds while a test runs: the most bytes one of them held at once, and
    the name of every file seen in one."""

    def __init__(self, job_dir):
        self._frames_dir = Path(job_dir) / "frames"
        self.peak_bytes = 0
        self.names = set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._done.set()
        self._thread.join()

    def _sample(self):
        while not self._done.wait(0.002):
            for work_dir in self._frames_dir.glob(".work-*"):
                total = 0
                try:
                    for entry in os.scandir(work_dir):
                        self.names.add(entry.name)
                        total += entry.stat(follow_symlinks=False).st_size
                except OSError:  # removed while sampled
                    pass
                self.peak_bytes = max(self.peak_bytes, total)
