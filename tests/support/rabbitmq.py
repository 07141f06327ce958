"""A throwaway RabbitMQ node for tests, stoppable and restartable (for outage tests).

    broker = ThrowawayRabbitMQ().start()
    broker.add_user("api", "pw", configure=r"^raycrafter\\.commands$",
                    write=r"^raycrafter\\.commands$", read="^$")
    broker.url("api", "pw")          # amqp://api:pw@127.0.0.1:PORT/%2F
    broker.stop(); broker.start()    # same node, same data, same port
    broker.destroy()

The node is named ``rc-test-<random>@localhost``, listens on 127.0.0.1 only (AMQP and
distribution ports are free ports chosen here), keeps its data, logs, config, enabled
plugins (none) and Erlang cookie (``HOME``) in a temporary directory, and never touches
the system's RabbitMQ. ``admin_url`` is a user with all permissions for test set-up.
"""
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayRabbitMQ:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rc-rabbit-")
        self.node = f"rc-test-{secrets.token_hex(4)}@localhost"
        self.port = _free_port()
        self.dist_port = _free_port()
        self.process = None
        self.admin_password = secrets.token_hex(12)
        self._configured = False
        with open(os.path.join(self.dir, "rabbitmq.conf"), "w") as f:
            f.write(f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
                    "log.console = false\nlog.file.level = warning\n"
                    "disk_free_limit.absolute = 10MB\n")
        with open(os.path.join(self.dir, "enabled_plugins"), "w") as f:
            f.write("[].\n")
        open(os.path.join(self.dir, "rabbitmq-env.conf"), "w").close()

    @property
    def env(self):
        env = dict(os.environ)
        env.update({
            "HOME": self.dir,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": os.path.join(self.dir, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(self.dir, "log"),
            "RABBITMQ_CONFIG_FILE": os.path.join(self.dir, "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(self.dir, "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": os.path.join(self.dir, "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": os.path.join(self.dir, "rabbit.pid"),
        })
        return env

    def ctl(self, *args, timeout=120):
        return subprocess.run([CTL, "-n", self.node, *args], env=self.env, check=True,
                              capture_output=True, text=True, timeout=timeout).stdout

    def start(self):
        log = open(os.path.join(self.dir, "server.out"), "ab")
        self.process = subprocess.Popen([SERVER], env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        # await_startup fails at once while the node has not yet registered with epmd.
        deadline = time.monotonic() + 120
        while True:
            try:
                self.ctl("await_startup", "--timeout", "120", timeout=150)
                break
            except subprocess.CalledProcessError as error:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"rabbitmq did not start: {error.stderr}\n"
                                       f"{self._server_output()}") from None
                time.sleep(0.5)
        if not self._configured:
            self.ctl("delete_user", "guest")
            self.add_user("admin", self.admin_password, ".*", ".*", ".*")
            self._configured = True
        return self

    def _server_output(self):
        with open(os.path.join(self.dir, "server.out"), errors="replace") as f:
            return f.read()[-4000:]

    def add_user(self, name, password, configure, write, read):
        self.ctl("add_user", name, password)
        self.ctl("set_permissions", "-p", "/", name, configure, write, read)

    def url(self, user, password):
        return f"amqp://{user}:{password}@127.0.0.1:{self.port}/%2F"

    @property
    def admin_url(self):
        return self.url("admin", self.admin_password)

    def stop(self):
        """Stop the node (its data stays for the next ``start``)."""
        if self.process is None:
            return
        try:
            self.ctl("stop", timeout=120)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.kill()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None
        deadline = time.monotonic() + 30
        while _port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 9)
            self.process.wait()

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _port_open(port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0
