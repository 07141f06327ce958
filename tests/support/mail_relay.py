"""A throwaway exim4 of a test's own on loopback, relaying every message to a small SMTP
receiver of the test's own: mail sent through the MTA the appliance configures (Debian's
exim4) arrives where the test reads it.

exim4 started with ``-C`` gives up root for its own user (Debian-exim), so its spool and
log directories are that user's, under a directory anyone may enter.
"""
import os
import pwd
import shutil
import socket
import socketserver
import subprocess
import tempfile
import threading

from .polling import wait_for

EXIM = "/usr/sbin/exim4"
EXIM_USER = "Debian-exim"

CONFIG = """\
keep_environment =
primary_hostname = mta.raycrafter.test
spool_directory = {root}/spool
log_file_path = {root}/log/%slog
local_interfaces = 127.0.0.1
tls_advertise_hosts =
acl_smtp_rcpt = accept_from_loopback

begin acl
accept_from_loopback:
  accept hosts = 127.0.0.1
  deny message = relaying from loopback only

begin routers
to_receiver:
  driver = manualroute
  route_list = * 127.0.0.1
  transport = to_receiver
  self = send
  no_more

begin transports
to_receiver:
  driver = smtp
  port = {receiver_port}
  allow_localhost

begin retry
* * F,1h,10s
"""


class _Receiving(socketserver.StreamRequestHandler):
    """Just enough SMTP to take messages: every command accepted, each message kept."""

    def handle(self):
        self._say("220 receiver.raycrafter.test ESMTP")
        envelope = {"to": []}
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.decode("ascii", "replace").strip()
            verb = command[:4].upper()
            if verb == "EHLO":
                self._say("250-receiver.raycrafter.test", "250 8BITMIME")
            elif verb == "RCPT":
                envelope["to"].append(command.partition(":")[2].strip("<> "))
                self._say("250 ok")
            elif verb == "DATA":
                self._say("354 go on")
                self.server.messages.append({**envelope, "data": self._data()})
                envelope = {"to": []}
                self._say("250 kept")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("250 ok")

    def _data(self):
        lines = []
        for line in iter(self.rfile.readline, b""):
            if line == b".\r\n":
                break
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)

    def _say(self, *lines):
        self.wfile.write(b"".join(f"{line}\r\n".encode() for line in lines))


class SmtpReceiver(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Receiving)
        self.messages = []
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self):
        self.shutdown()
        self.server_close()


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThrowawayExim:
    """exim4 listening on a loopback port of its own, relaying to ``receiver_port``."""

    def __init__(self, receiver_port):
        self.root = tempfile.mkdtemp(prefix="raycrafter-exim-")
        os.chmod(self.root, 0o755)
        self.port = _free_port()
        self.config = os.path.join(self.root, "exim.conf")
        # exim writes no pid file for a daemon on a port of its own unless told where; it
        # writes it as its own user.
        self.pid_file = os.path.join(self.root, "spool", "exim.pid")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(root=self.root, receiver_port=receiver_port))
        exim = pwd.getpwnam(EXIM_USER)
        for folder in ("spool", "log"):
            os.mkdir(os.path.join(self.root, folder))
            os.chown(os.path.join(self.root, folder), exim.pw_uid, exim.pw_gid)

    def start(self):
        # -q5s: a queue run every 5 s delivers what a first attempt left.
        subprocess.run([EXIM, "-C", self.config, "-bd", "-q5s", "-oX", str(self.port),
                        "-oP", self.pid_file],
                       check=True, capture_output=True, timeout=30)
        wait_for(self._listening, timeout=20, message="the throwaway exim4 to listen")
        return self

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def log(self):
        try:
            with open(os.path.join(self.root, "log", "mainlog")) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        try:
            with open(self.pid_file) as f:
                os.kill(int(f.read().split()[0]), 15)
        except ProcessLookupError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)
