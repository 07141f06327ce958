"""A real GELF-over-TCP receiver for tests: syslog-ng in the foreground.

Graylog cannot be installed here; syslog-ng (Debian) splits a TCP stream on the null bytes
that frame GELF messages (``flags(no-parse)``), parses each frame as JSON and writes one
JSON object per line, GELF fields (``_job_id``, ``_frame``, ...) kept as they were sent
(values arrive as strings). It can be stopped and started again on the same port, to play
a log server that goes away. Given a certificate and its key it listens with TLS instead,
as a log server reached across the cluster network would; it asks for no client
certificate, because the node agent presents none.
"""

import json
import os
import signal
import socket
import subprocess
import time

from support.polling import wait_for

CONFIG = """@version: 3.38
options {{ stats-freq(0); use-dns(no); dns-cache(no); log-fifo-size(100000); }};
source s_gelf {{
    network(ip("127.0.0.1") port({port}) {transport} flags(no-parse)
            log-msg-size(1048576) max-connections(64) log-iw-size(64000));
}};
parser p_gelf {{ json-parser(prefix("gelf.")); }};
destination d_records {{
    file("{records}" template("$(format-json --key gelf.* --shift-levels 1)\\n")
         flush-lines(1));
}};
log {{ source(s_gelf); parser(p_gelf); destination(d_records); flags(flow-control); }};
"""


TCP = 'transport("tcp")'
TLS = ('transport("tls") tls(key-file("{key_file}") cert-file("{cert_file}") '
       'peer-verify(optional-untrusted))')


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class GelfReceiver:
    """syslog-ng listening on 127.0.0.1:``port``, records in ``directory/records.jsonl``;
    over TLS when ``cert_file`` (the server's certificate, PEM) and ``key_file`` are given."""

    def __init__(self, directory, port=None, cert_file=None, key_file=None):
        self.directory = str(directory)
        os.makedirs(self.directory, exist_ok=True)
        self.port = port or free_port()
        self.records_file = os.path.join(self.directory, "records.jsonl")
        self.config_file = os.path.join(self.directory, "syslog-ng.conf")
        if (cert_file is None) != (key_file is None):
            raise ValueError("TLS needs both the certificate and its key")
        self.tls = cert_file is not None
        transport = TLS.format(cert_file=cert_file, key_file=key_file) if self.tls else TCP
        with open(self.config_file, "w") as handle:
            handle.write(CONFIG.format(port=self.port, transport=transport,
                                       records=self.records_file))
        self._process = None

    @property
    def running(self):
        return self._process is not None and self._process.poll() is None

    def start(self, timeout=20.0):
        path = self.directory
        self._output = open(os.path.join(path, "syslog-ng.out"), "ab")
        # -e: syslog-ng's own messages (connections, TLS errors) go to syslog-ng.out.
        self._process = subprocess.Popen(
            ["syslog-ng", "-F", "-e", "--no-caps", "-f", self.config_file,
             "--persist-file", os.path.join(path, "syslog-ng.persist"),
             "--pidfile", os.path.join(path, "syslog-ng.pid"),
             "--control", os.path.join(path, "syslog-ng.ctl")],
            stdout=self._output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError("syslog-ng exited with %s; see %s/syslog-ng.out"
                                   % (self._process.returncode, path))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("syslog-ng did not listen on port %d within %.0f s" % (self.port, timeout))

    def stop(self, timeout=20.0):
        """Stop syslog-ng (it writes out what it received) and wait until the port is closed."""
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
        """syslog-ng's own messages (connections, TLS errors), for assertions and failures."""
        path = os.path.join(self.directory, "syslog-ng.out")
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as handle:
            return handle.read()

    def records(self):
        """Every record received so far, as dicts."""
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
