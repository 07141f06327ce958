"""Running the real worker (a subprocess) against a real API, RabbitMQ and the cluster."""
import contextlib
import http.server
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import urllib.request

import pika
from raycrafter_contract.messaging import EXCHANGE, QUEUE, ROUTING_KEY, command_body

from support.polling import wait_for



def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def write_worker_config(path, top, clusters):
    lines = [f"{k} = {toml_value(v)}" for k, v in top.items()]
    for name, profile in clusters.items():
        lines.append(f"\n[clusters.{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in profile.items()]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return str(path)


class WorkerProcess:
    def __init__(self, config_path, log_path, environment=None):
        self.config_path, self.log_path = config_path, log_path
        self.environment = environment or {}  # e.g. TMPDIR: where its working folder is
        self.process = None

    def start(self):
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "raycrafter_worker", "--config", self.config_path,
             "--log-level", "DEBUG"], stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **self.environment})
        log.close()
        wait_for(lambda: "consuming worker.commands" in self.log(), timeout=30,
                 message="the worker consuming")
        return self

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout=60):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode if self.process else None


def publish(amqp_url, command, job_id, cluster):
    """Publish a command as the API's relay does (persistent, confirmed, mandatory)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        command_id = secrets.token_hex(16)
        channel.basic_publish(EXCHANGE, ROUTING_KEY, command_body(
            command_id, command, job_id, cluster, "2026-01-01T00:00:00Z"),
            properties=pika.BasicProperties(content_type="application/json",
                                            delivery_mode=2, message_id=command_id),
            mandatory=True)
        return command_id
    finally:
        connection.close()


def prepare_queue(amqp_url):
    """Declare and empty the worker's queue so a test starts from nothing."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.exchange_declare(EXCHANGE, exchange_type="direct", durable=True)
        channel.queue_declare(QUEUE, durable=True)
        channel.queue_bind(QUEUE, EXCHANGE, routing_key=ROUTING_KEY)
        channel.queue_purge(QUEUE)
    finally:
        connection.close()


class HoldingProxy:
    """An HTTP proxy to the API that can hold back requests matching a predicate, so a
    test can kill the worker at an exact point (e.g. after sbatch, before the report)."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.hold = None  # predicate(method, path, body) -> bool
        self.held = threading.Event()
        self.release = threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy.hold and proxy.hold(self.command, self.path, body):
                    proxy.held.set()
                    proxy.release.wait(120)
                    self.close_connection = True
                    return  # the worker was killed meanwhile; nothing reaches the API
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection")}
                request = urllib.request.Request(proxy.upstream + self.path, data=body,
                                                 method=self.command, headers=headers)
                try:
                    response = urllib.request.urlopen(request, timeout=60)
                except urllib.error.HTTPError as error:
                    response = error
                data = response.read()
                self.send_response(response.status if hasattr(response, "status")
                                   else response.code)
                for key, value in response.headers.items():
                    if key.lower() not in ("content-length", "connection",
                                           "transfer-encoding", "date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def small_file_system(path, options):
    """A tmpfs mounted at ``path`` (made if missing) with mount ``options`` such as
    ``size=1m``, to fill in a test; ``remount(options)`` changes them."""
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", path], check=True)
    try:
        yield lambda new: subprocess.run(["mount", "-o", f"remount,{new}", path], check=True)
    finally:
        subprocess.run(["umount", "--lazy", path], check=True)


class ThrowawaySshd:
    """The cluster's sshd settings on a port of our own, to stop and start at will.

    ``force_command`` (a program the cluster user may run) is run for every session in
    place of the command asked for, which it finds in $SSH_ORIGINAL_COMMAND: a login node
    whose commands behave differently, e.g. a slow scheduler."""

    def __init__(self, directory, port, force_command=None):
        self.port = port
        self.config = os.path.join(directory, "sshd_config")
        with open(self.config, "w") as f:
            f.write(f"ListenAddress 127.0.0.1\nPort {port}\n"
                    "HostKey /etc/ssh/ssh_host_raycrafter_ed25519_key\n"
                    "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                    "AuthenticationMethods publickey\n"
                    "AuthorizedKeysFile /etc/ssh/authorized_keys/%u\n"
                    f"PidFile {directory}/sshd.pid\nUsePAM yes\n"
                    "Subsystem sftp /usr/lib/openssh/sftp-server\n")
            if force_command:
                f.write(f"ForceCommand {force_command}\n")
        self.process = None

    def start(self):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.process = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", self.config],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._listening, timeout=10, message="the throwaway sshd")
        return self

    def _listening(self):
        import socket
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self):
        """Stop the listener and the sessions it forked: the login node is gone."""
        if self.process and self.process.poll() is None:
            for pid in [self.process.pid] + _descendants(self.process.pid):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            self.process.wait(timeout=10)
        self.process = None


def _descendants(root):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found
