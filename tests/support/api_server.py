"""Run the real API (waitress, in a subprocess) for tests of any component.

    from support.api_server import ApiServer, write_config, create_user, ensure_worker_token

    config = write_config(tmp_path / "api.toml", database_url=f"sqlite:///{tmp_path}/api.db",
                          data_dir=str(tmp_path / "data"))     # any config key may be given
    with ApiServer(config) as api:          # migrates, starts, waits for /api/v1/health
        token = create_user(config, "alice")                 # a user's bearer token
        worker = ensure_worker_token(config)                 # the worker's service token
        requests.get(f"{api.url}/jobs", headers={"Authorization": f"Bearer {token}"})

``api.url`` is ``http://127.0.0.1:PORT/api/v1``. The server and ``raycrafter-admin`` run
with the same Python as the tests (``sys.executable``), so ``raycrafter-api`` must be
installed there (``pip install -e api``). ``ApiServer.stop()`` ends the subprocess;
``api.log()`` returns its output for failure messages.
"""
import os
import secrets
import socket
import subprocess
import sys
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
    token = secrets.token_urlsafe(32)
    directory = token_dir or os.path.dirname(os.path.abspath(config_path))
    token_file = os.path.join(directory, "worker.token")
    with open(os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(token)
    admin(config_path, "service-token", "ensure", "worker", "--token-file", token_file)
    return token


class ApiServer:
    def __init__(self, config_path, threads=16, environment=None):
        self.config_path = str(config_path)
        self.threads = threads
        self.environment = environment or {}
        self.port = None
        self.process = None
        self._log_path = self.config_path + ".server.log"

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self):
        return f"{self.base}/api/v1"

    def start(self):
        admin(self.config_path, "migrate")
        self.port = _free_port()
        env = dict(os.environ, RAYCRAFTER_API_CONFIG=self.config_path, **self.environment)
        with open(self._log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{self.port}",
                 f"--threads={self.threads}", "--trusted-proxy=127.0.0.1",
                 "--trusted-proxy-headers=x-forwarded-for x-forwarded-proto",
                 "--call", "raycrafter_api.app:create_app_from_env"],
                env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._answers, timeout=30, message=f"the API on port {self.port}")
        return self

    def _answers(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"the API exited with {self.process.returncode}:\n{self.log()}")
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
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

