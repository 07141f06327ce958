"""The appliance's log server (``raycrafter-logserver``) as a process of a test's own.

It listens on 127.0.0.1 on a port of its own, over TLS when given a certificate and its
key, takes the records signed with its throwaway credential key (``credential`` makes one
for a job, as the API does) and writes them to ``directory/records.jsonl``. It can be
stopped and started again on the same port, to play a log server that goes away; what it
says about itself (connections refused, TLS handshakes that failed, its counts) is in
``output()``.
"""
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time

from raycrafter_contract import log_credentials

from support.polling import wait_for
from support.worker_harness import toml_value


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RecordsReceiver:
    """A GELF receiver process on 127.0.0.1:``port`` that writes what it takes to
    ``directory/records.jsonl``; a subclass says how it is started (``command``) and
    configured (``configure``), and what it says once it listens (``ready``)."""

    output_name = "receiver.out"

    def __init__(self, directory, port=None):
        self.directory = str(directory)
        os.makedirs(self.directory, exist_ok=True)
        self.port = port or free_port()
        self.records_file = os.path.join(self.directory, "records.jsonl")
        self._process = None

    @property
    def running(self):
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self):
        return self._process.pid

    def start(self, timeout=20.0):
        self._output = open(os.path.join(self.directory, self.output_name), "ab")
        self._process = subprocess.Popen(self.command(), stdout=self._output,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(self._listening, timeout=timeout, interval=0.1,
                 message=f"{type(self).__name__} listening on port {self.port}")
        return self

    def _listening(self):
        if self._process.poll() is not None:
            raise RuntimeError(f"{type(self).__name__} exited with "
                               f"{self._process.returncode}:\n{self.output()}")
        return self.ready()

    def stop(self, timeout=20.0):
        """Stop it (it writes out what it received) and wait until the port is closed."""
        if not self.running:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._output.close()
        self._process = None

    def output(self):
        """What the receiver says about itself: its counts, connections, TLS errors."""
        path = os.path.join(self.directory, self.output_name)
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as handle:
            return handle.read()

    def records(self):
        """Every record written so far, as dicts."""
        if not os.path.exists(self.records_file):
            return []
        with open(self.records_file) as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def wait_for(self, predicate, timeout=30.0):
        """Poll until ``predicate(records)`` is true; returns the records."""
        found = []

        def arrived():
            found[:] = self.records()
            return predicate(found)
        wait_for(arrived, timeout=timeout, interval=0.2, message="the expected log records")
        return found

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


class LogServerProcess(RecordsReceiver):
    """``key``: the credential key (a fresh one by default); ``settings``: further keys of
    its configuration (max_record_bytes, records_per_second, ...). It reports its counts
    every half second, so tests can read them soon."""

    output_name = "logserver.out"

    def __init__(self, directory, port=None, cert_file=None, key_file=None, key=None,
                 search=False, **settings):
        super().__init__(directory, port)
        # The search port (search=True): raycrafter-admin logs asks it with search_token.
        self.search_port = free_port() if search else None
        self.search_token = secrets.token_urlsafe(32)
        self.key = key or secrets.token_urlsafe(32)
        self.config_file = os.path.join(self.directory, "logserver.toml")
        if (cert_file is None) != (key_file is None):
            raise ValueError("TLS needs both the certificate and its key")
        self.tls = cert_file is not None
        values = dict({"records_file": self.records_file, "credential_key": self.key,
                       "report_seconds": 0.5}, **settings)
        tables = [("listeners", self.port)]
        if search:
            values["search_token"] = self.search_token
            tables.append(("search_listeners", self.search_port))
        with open(os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                  "w") as handle:
            handle.writelines(f"{name} = {toml_value(value)}\n" for name, value in values.items())
            for table, port in tables:
                listener = {"address": "127.0.0.1", "port": port}
                if self.tls:
                    listener.update(certificate_file=str(cert_file), key_file=str(key_file))
                handle.write(f"[[{table}]]\n")
                handle.writelines(f"{name} = {toml_value(value)}\n"
                                  for name, value in listener.items())

    def credential(self, job_id, attempt=1, seconds=3600):
        """A log credential for ``job_id``, as the API issues one with this key."""
        return log_credentials.issue(self.key.encode(), job_id, attempt,
                                     int(time.time()) + seconds)

    def command(self):
        return [sys.executable, "-m", "raycrafter_logserver", "--config", self.config_file]

    def ready(self):
        return "listening on" in self.output()
