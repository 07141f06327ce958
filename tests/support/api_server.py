"""Run the real API (waitress, in a subprocess) for tests of any component.

    from support.api_server import ApiServer, write_config, create_user, ensure_worker_token

    config = write_config(tmp_path / "api.toml", database_url=f"sqlite:///{tmp_path}/api.db",
                          data_dir=str(tmp_path / "data"))     # any config key may be given
    with ApiServer(config) as api:          # migrates, starts, waits for /api/v1/health
        token = create_user(config, "alice")                 # a user's bearer token
        worker = ensure_worker_token(config)                 # the worker's service token
        site = ensure_site_token(config, "archer")           # archer's site agent
        requests.get(f"{api.url}/jobs", headers={"Authorization": f"Bearer {token}"})

``api.url`` is ``http://127.0.0.1:PORT/api/v1``. The server (``raycrafter-api``, as the
appliance runs it; ``ApiServer(config, processes=2)`` for two processes on the port) and
``raycrafter-admin`` run with the same Python as the tests (``sys.executable``), so
``raycrafter-api`` must be installed there (``pip install -e api``). ``ApiServer.stop()``
ends the subprocesses; ``api.log()`` returns their output for failure messages.
"""
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request

from support.polling import wait_for


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def write_config(path, **values):
    """Write an API config file with these keys; returns its path as a string."""
    with open(path, "w") as f:
        for key, value in values.items():
            f.write(f"{key} = {_toml_value(value)}\n")
    return str(path)


def stored(config_path, job_id, *columns):
    """The job's ``columns`` as the API's SQLite database holds them: for what no answer of
    the API shows."""
    with open(config_path, "rb") as f:
        url = tomllib.load(f)["database_url"]
    database = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return database.execute(f"SELECT {', '.join(columns)} FROM job WHERE id = ?",
                                (job_id,)).fetchone()
    finally:
        database.close()


def admin(config_path, *args, check=True):
    """Run ``raycrafter-admin --config CONFIG ARGS`` and return the CompletedProcess."""
    result = subprocess.run([sys.executable, "-m", "raycrafter_api.admin.cli", "--config",
                             str(config_path), *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"raycrafter-admin {' '.join(args)} failed: {result.stderr}")
    return result


def create_user(config_path, name, is_admin=False):
    """Create a user and return its bearer token."""
    args = ["user", "add", name] + (["--admin"] if is_admin else [])
    return admin(config_path, *args).stdout.strip()


def ensure_worker_token(config_path, token_dir=None):
    """Install a fresh worker service token and return it."""
    token_file = _new_token_file(config_path, token_dir, "worker.token")
    admin(config_path, "service-token", "ensure", "worker", "--token-file", token_file)
    return _read(token_file)


def ensure_site_token(config_path, cluster, token_dir=None):
    """Install a fresh token for the site agent of ``cluster`` (one of the config's
    ``pull_clusters``) and return it."""
    token_file = _new_token_file(config_path, token_dir, f"site-{cluster}.token")
    admin(config_path, "site-token", "ensure", "--cluster", cluster, "--token-file",
          token_file)
    return _read(token_file)


def _new_token_file(config_path, token_dir, name):
    directory = token_dir or os.path.dirname(os.path.abspath(config_path))
    token_file = os.path.join(directory, name)
    with open(os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(secrets.token_urlsafe(32))
    return token_file


def _read(path):
    with open(path) as f:
        return f.read()


class ApiServer:
    """The API as the appliance runs it (``raycrafter-api``): ``processes`` processes of
    ``threads`` threads each, sharing one port. ``process`` is the first of them."""

    def __init__(self, config_path, threads=16, processes=1, environment=None):
        self.config_path = str(config_path)
        self.threads = threads
        self.environment = environment or {}
        self.processes = []
        self.count = processes
        self.port = None
        self._log_path = self.config_path + ".server.log"

    @property
    def process(self):
        return self.processes[0] if self.processes else None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self):
        return f"{self.base}/api/v1"

    def start(self):
        admin(self.config_path, "migrate")
        # Started again, it listens where it did: as a restarted API does behind nginx.
        if self.port is None:
            self.port = _free_port()
        env = dict(os.environ, RAYCRAFTER_API_CONFIG=self.config_path, **self.environment)
        with open(self._log_path, "ab") as log:
            self._log_start = log.tell()
            self.processes = [subprocess.Popen(
                [sys.executable, "-m", "raycrafter_api.http.server",
                 f"--listen=127.0.0.1:{self.port}", f"--threads={self.threads}",
                 "--trusted-proxy=127.0.0.1",
                 "--trusted-proxy-headers=x-forwarded-for x-forwarded-proto"],
                env=env, stdout=log, stderr=subprocess.STDOUT) for _ in range(self.count)]
        wait_for(self._answers, timeout=30, message=f"the API on port {self.port}")
        return self

    def _answers(self):
        for process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(f"the API exited with {process.returncode}:\n{self.log()}")
        with open(self._log_path, "rb") as log:
            log.seek(self._log_start)
            if log.read().count(b"Serving on ") < self.count:
                return False  # not every process listens yet
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # 503: serving, though a dependency is down
        except OSError:
            return False

    def log(self):
        with open(self._log_path, errors="replace") as f:
            return f.read()[-8000:]

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
