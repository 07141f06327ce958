"""terraform/lxd applied for real: Debian's LXD, run in the tier's namespace, makes a salt
master and role hosts as containers on the module's own bridge (no NAT, no route out); the
master accepts exactly its minions, applies the `logging` role to its host, and `destroy`
leaves no container, network or profile behind.

The containers reach no package archive, so their image (lxd-image.sh, built once on the
host and cached) already holds the packages the logging role's highstate installs and the
appliance's own Salt venv (./appliance up makes it).
"""
import hashlib
import json
import pathlib
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

import terraform_tools as tools

pytestmark = pytest.mark.apply

REPOSITORY = tools.HERE.parents[1]
IMAGE_DIR = pathlib.Path("/var/cache/raycrafter/terraform-lxd-image")
IMAGE_ALIAS = "raycrafter-bookworm"
SALT_VENV = pathlib.Path("/opt/raycrafter/salt")
ROLES = {"logging": 1, "cluster": 1}
# The image holds the packages of the role the tier applies (the containers reach no archive).
IMAGE_ROLES = ("logging",)
MASTER = "raycrafter-master"
MINIONS = ["raycrafter-cluster-1", "raycrafter-logging-1"]
APT_LOCK = "/tmp/raycrafter-apt.lock"


def install_lxd():
    if shutil.which("lxd") and shutil.which("debootstrap"):
        return
    # Someone else may be installing packages: take the shared lock, then wait for dpkg.
    script = ("while pgrep -x dpkg >/dev/null; do sleep 2; done; apt-get update -qq && "
              "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
              "lxd lxd-client debootstrap >/dev/null")
    subprocess.run(["flock", APT_LOCK, "sh", "-c", script], check=True, timeout=900)


def image_fingerprint():
    """The script, the Salt it copies and the catalogue's packages make the image: a change
    to any rebuilds it."""
    salt = subprocess.run([str(SALT_VENV / "bin/pip"), "freeze"], check=True, capture_output=True,
                          text=True).stdout
    packages = subprocess.run([str(SALT_VENV / "bin/python"), str(REPOSITORY / "pillar/catalogue.py"),
                               "packages", *IMAGE_ROLES], check=True, capture_output=True, text=True).stdout
    return hashlib.sha256((tools.HERE / "lxd-image.sh").read_bytes() + (salt + packages).encode()).hexdigest()


@pytest.fixture(scope="module")
def image():
    assert (SALT_VENV / "bin/salt-minion").exists(), "the LXD tier copies the appliance's Salt: ./appliance up"
    install_lxd()
    stamp = IMAGE_DIR / "fingerprint"
    fingerprint = image_fingerprint()
    if not stamp.exists() or stamp.read_text() != fingerprint:
        # debootstrap reads Debian's archive: on the host, before anything runs in the namespace.
        subprocess.run([str(tools.HERE / "lxd-image.sh"), str(IMAGE_DIR), *IMAGE_ROLES], check=True,
                       timeout=900)
        stamp.write_text(fingerprint)
    return IMAGE_DIR


class Lxd:
    """An LXD daemon of the test's own (its own LXD_DIR and storage), in the namespace.

    Without systemd, LXD needs a sysfs of its network namespace: it runs in a mount
    namespace of its own where /sys is mounted anew, keeping the host's cgroup mounts.
    """

    START = ("mount --make-rslave / && mkdir -p {cgroup} && mount --rbind /sys/fs/cgroup {cgroup} && "
             "mount -t sysfs sysfs /sys && mount --move {cgroup} /sys/fs/cgroup && "
             "exec lxd --group root --logfile {directory}/lxd.log")

    def __init__(self, namespace):
        self.namespace = namespace
        # Short paths: LXD binds Unix sockets below its directory (107 bytes at most).
        self.directory = pathlib.Path(tempfile.mkdtemp(prefix="rc-lxd-", dir="/tmp"))
        self.pool = pathlib.Path(tempfile.mkdtemp(prefix="rc-pool-", dir="/tmp"))
        self.socket = self.directory / "unix.socket"
        start = self.START.format(cgroup=self.directory / "cgroup", directory=self.directory)
        self.daemon = subprocess.Popen(namespace.command(["unshare", "--mount", "--", "sh", "-c", start]),
                                       env=self.environment(), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        try:
            self.run("lxd", "waitready", "--timeout", "60")
        except AssertionError:
            self.daemon.kill()
            self.daemon.wait()
            raise
        preseed = json.dumps({"storage_pools": [{"name": "default", "driver": "dir",
                                                 "config": {"source": str(self.pool)}}]})
        self.run("lxd", "init", "--preseed", input=preseed)

    def environment(self):
        return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LXD_DIR": str(self.directory)}

    def run(self, *argv, input=None, check=True, timeout=300):
        result = subprocess.run(self.namespace.command(argv), env=self.environment(), input=input,
                                capture_output=True, text=True, timeout=timeout)
        if check:
            assert result.returncode == 0, f"{' '.join(argv)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def lxc_json(self, *argv):
        return json.loads(self.run("lxc", *argv, "--format", "json"))

    def close(self):
        self.run("lxd", "shutdown", check=False, timeout=120)
        self.daemon.wait(timeout=60)
        shutil.rmtree(self.directory, ignore_errors=True)
        shutil.rmtree(self.pool, ignore_errors=True)


@pytest.fixture(scope="module")
def lxd(namespace, image):
    daemon = Lxd(namespace)
    daemon.run("lxc", "image", "import", str(image / "metadata.tar.gz"), str(image / "rootfs.tar.gz"),
               "--alias", IMAGE_ALIAS)
    yield daemon
    daemon.close()


@pytest.fixture(scope="module")
def variables(lxd):
    return ["-var", f"image={IMAGE_ALIAS}", "-var", f"lxd_socket={lxd.socket}",
            "-var", f"repository_path={REPOSITORY}", "-var", f"roles={json.dumps(ROLES)}"]


@pytest.fixture(scope="module")
def applied(initialized, terraform, lxd, variables):
    directory = initialized("lxd")
    started = time.monotonic()
    terraform(directory, "apply", "-input=false", "-auto-approve", *variables, timeout=600)
    print(f"LXD apply: {time.monotonic() - started:.0f} s")
    yield directory
    # Normally test_destroy_leaves_nothing has destroyed everything already.
    terraform.run(directory, "destroy", "-input=false", "-auto-approve", *variables, timeout=600)


def salt(lxd, *argv):
    """A salt command on the master, its JSON output parsed."""
    # --static: one JSON document for all minions, once every one has returned.
    options = ["--out=json"] + (["--static", "--timeout=600"] if argv[0] == "salt" else [])
    return json.loads(lxd.run("lxc", "exec", MASTER, "--", str(SALT_VENV / "bin" / argv[0]),
                              *options, *argv[1:], timeout=600))


def accepted_keys(lxd, deadline):
    # Each minion starts at the end of its container's first boot and is accepted then.
    while True:
        keys = salt(lxd, "salt-key", "--list=all")
        if sorted(keys.get("minions", [])) == MINIONS or time.monotonic() > deadline:
            return keys
        time.sleep(2)


def test_the_containers_sit_at_their_fixed_addresses(applied, lxd):
    addresses = {container["name"]: [address["address"]
                                     for address in container["state"]["network"]["eth0"]["addresses"]
                                     if address["family"] == "inet"]
                 for container in lxd.lxc_json("list")}
    assert addresses == {MASTER: ["10.42.1.10"], "raycrafter-logging-1": ["10.42.1.40"],
                         "raycrafter-cluster-1": ["10.42.1.60"]}


def test_the_master_accepted_exactly_the_minions_it_was_made_with(applied, lxd):
    keys = accepted_keys(lxd, time.monotonic() + 120)
    assert sorted(keys["minions"]) == MINIONS
    assert keys.get("minions_pre", []) == [] and keys.get("minions_rejected", []) == []
    assert salt(lxd, "salt", "*", "test.ping") == {minion: True for minion in MINIONS}


def test_a_highstate_of_the_logging_role_succeeds_through_the_master(applied, lxd):
    accepted_keys(lxd, time.monotonic() + 120)
    # Each host's firewall admits the hosts the mine names (salt/firewall): both publish first.
    assert salt(lxd, "salt", "*", "mine.update") == {minion: True for minion in MINIONS}
    started = time.monotonic()
    states = salt(lxd, "salt", "raycrafter-logging-1", "state.highstate")["raycrafter-logging-1"]
    print(f"highstate of the logging role: {time.monotonic() - started:.0f} s")
    assert isinstance(states, dict), states
    failed = {name: state["comment"] for name, state in states.items() if state["result"] is not True}
    assert not failed, failed
    assert any("logserver-config-file-managed" in name for name in states), list(states)
    # The log server listens on its host's address, over TLS (the host's certificate from
    # the deployment CA, pillar/tls.sls), and its firewall admits the cluster host only (the
    # node agents send GELF; pillar/catalogue.yaml).
    handshake = ("import socket, ssl; context = ssl.create_default_context(); "
                 "context.check_hostname = False; context.verify_mode = ssl.CERT_NONE; "
                 "tls = context.wrap_socket(socket.create_connection(('10.42.1.40', 12201), 5)); "
                 "print(tls.getpeercert(binary_form=True) is not None)")
    assert lxd.run("lxc", "exec", "raycrafter-cluster-1", "--", "python3", "-c",
                   handshake).strip() == "True"
    lxd.run("lxc", "exec", MASTER, "--", "python3", "-c",
            f"import sys\ntry:\n    {handshake}\nexcept OSError:\n    sys.exit(0)\nsys.exit(1)")


def test_the_log_hosts_records_are_on_a_volume_that_outlives_the_host(applied, terraform, lxd,
                                                                      variables):
    """The logging role's data (the catalogue's `volume`) is a custom volume LXD mounts in
    the container; the container made anew (-replace) finds what the old one wrote."""
    host, path = "raycrafter-logging-1", "/var/log/raycrafter"
    assert lxd.run("lxc", "exec", host, "--", "sh", "-c", f"mountpoint -q {path} && echo mounted").strip() == "mounted"
    marker = uuid.uuid4().hex
    lxd.run("lxc", "exec", host, "--", "sh", "-c", f"echo {marker} > {path}/outlives-the-host")
    terraform(applied, "apply", "-input=false", "-auto-approve",
              f'-replace=lxd_container.machine["{host}"]', *variables, timeout=600)
    assert lxd.run("lxc", "exec", host, "--", "cat", f"{path}/outlives-the-host").strip() == marker


def test_destroy_leaves_nothing(applied, terraform, lxd, variables):
    started = time.monotonic()
    terraform(applied, "destroy", "-input=false", "-auto-approve", *variables, timeout=600)
    print(f"LXD destroy: {time.monotonic() - started:.0f} s")
    assert lxd.lxc_json("list") == []
    assert [network["name"] for network in lxd.lxc_json("network", "list") if network["managed"]] == []
    assert [profile["name"] for profile in lxd.lxc_json("profile", "list")] == ["default"]
