"""The appliance's nginx in front of a server started here, for tests and benches.

    front = NginxFront(limits={"requests_per_token": 5})   # any raycrafter:nginx setting
    base = front.serve(api.port)      # https://127.0.0.1:PORT/api/v1, verify=front.certificate
    ...
    front.close()

Salt's template (salt/nginx/files/raycrafter.conf.jinja) is rendered with the component's
defaults (salt/nginx/defaults.yaml), the settings given, free ports and a self-signed
certificate, and included by an nginx configuration of its own like Debian's (its
http settings, its mime types), run by an nginx process of its own in a directory of its
own. The one change to the rendered text: it listens on 127.0.0.1 only, where the
appliance listens on every address (and, for a bench measuring what it costs,
``sender_check=False`` leaves the sender check out). ``access_log()`` gives, per request,
the status and how many bytes of it nginx read (``$request_length``).
"""
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile

import jinja2
import yaml

from support.polling import wait_for
from support.postgres import free_port
from support.salt_tree import REPOSITORY

NGINX = REPOSITORY / "salt" / "nginx"
ACCESS_FORMAT = "$status $request_method $request_uri $request_length"


def settings(**overrides):
    """raycrafter:nginx as the template sees it: the defaults, with ``overrides`` merged
    in (a dict merged key by key)."""
    merged = yaml.safe_load((NGINX / "defaults.yaml").read_text())
    for key, value in overrides.items():
        if isinstance(value, dict):
            merged[key] = dict(merged[key], **value)
        else:
            merged[key] = value
    return merged


def render(nginx):
    """The template rendered for ``nginx`` (a settings dict with ports and paths)."""
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(NGINX / "files")),
                                     undefined=jinja2.StrictUndefined)
    return environment.get_template("raycrafter.conf.jinja").render(nginx=nginx)


class NginxFront:
    def __init__(self, sender_check=True, **overrides):
        # Its own directory, readable by nginx's workers (they run as nobody).
        self.directory = pathlib.Path(tempfile.mkdtemp(prefix="rc-nginx-"))
        self.directory.chmod(0o755)
        self.certificate = str(self.directory / "api.crt")
        self.https_port, self.http_port = free_port(), free_port()
        self._overrides = overrides
        self._sender_check = sender_check
        self._process = None
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-addext", "basicConstraints=critical,CA:TRUE",
                        "-keyout", str(self.directory / "api.key"), "-out", self.certificate],
                       check=True, capture_output=True)

    @property
    def base(self):
        return f"https://127.0.0.1:{self.https_port}"

    def serve(self, upstream_port):
        """(Re)start nginx in front of ``127.0.0.1:upstream_port``; the API's base URL."""
        self.stop()
        nginx = settings(**self._overrides)
        nginx.update(http_port=self.http_port, https_port=self.https_port,
                     certificate_file=self.certificate,
                     key_file=str(self.directory / "api.key"),
                     upstream=f"127.0.0.1:{upstream_port}")
        site = re.sub(r"(?m)^\s*listen \[::\]:.*\n", "", render(nginx))
        site = re.sub(r"(?m)^(\s*listen )(\d+)", r"\g<1>127.0.0.1:\g<2>", site)
        if not self._sender_check:
            site = site.replace("auth_request /_sender_check;", "")
        (self.directory / "raycrafter.conf").write_text(site)
        (self.directory / "nginx.conf").write_text(self._main_config())
        command = ["nginx", "-p", str(self.directory), "-c", str(self.directory / "nginx.conf")]
        checked = subprocess.run(command + ["-t"], capture_output=True, text=True)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx refuses the rendered configuration:\n{checked.stderr}")
        self._process = subprocess.Popen(command + ["-g", "daemon off;"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(self._listening, timeout=20, message="nginx")
        return f"{self.base}/api/v1"

    def _main_config(self):
        directory = self.directory
        temp = "\n".join(f"    {kind}_temp_path {directory}/{kind};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return f"""worker_processes auto;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format bytes '{ACCESS_FORMAT}';
    access_log {directory}/access.log bytes;
{temp}
    include {directory}/raycrafter.conf;
}}
"""

    def _listening(self):
        if self._process.poll() is not None:
            raise RuntimeError(f"nginx exited: {self._process.stderr.read().decode()}")
        try:
            socket.create_connection(("127.0.0.1", self.https_port), timeout=1).close()
            return True
        except OSError:
            return False

    def access_log(self):
        """[(status, method, uri, bytes nginx read of the request)] so far."""
        path = self.directory / "access.log"
        if not path.exists():
            return []
        entries = []
        for line in path.read_text().splitlines():
            status, method, uri, length = line.split(" ")
            entries.append((int(status), method, uri, int(length)))
        return entries

    def error_log(self):
        path = self.directory / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self):
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def close(self):
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
