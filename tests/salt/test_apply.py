"""Apply tier: the all-in-one highstate applied for real on this host, then what it did.

Runs as root on the machine `./appliance test` has brought up; it applies the highstate
through the appliance's own minion configuration and checks the running services.
"""
import grp
import io
import ipaddress
import json
import os
import pathlib
import pwd
import stat
import subprocess
import time

import paramiko
import pika
import pika.exceptions
import pytest
from raycrafter_contract.messaging import EXCHANGE, QUEUE, ROUTING_KEY
from support.appliance_salt import CONFIG_DIR, SALT_CALL, apply_sls
from support.appliance_secrets import appliance_secrets
from support.polling import wait_for

pytestmark = pytest.mark.apply

SECRETS_FILE = pathlib.Path("/etc/raycrafter/pillar/secrets.sls")
GPG_KEYDIR = pathlib.Path("/etc/raycrafter/gpg")
GENERATOR = pathlib.Path(__file__).resolve().parents[2] / "pillar" / "generate_secrets.py"
SALT_PYTHON = "/opt/raycrafter/salt/bin/python"
WORKER_DIR = pathlib.Path("/etc/raycrafter/worker")
# Ports of internal services that must never listen beyond loopback in the appliance.
INTERNAL_PORTS = {5432: "postgresql", 5672: "amqp", 25672: "erlang distribution", 4369: "epmd",
                  8080: "api (waitress)", 12201: "gelf"}


def apply_highstate():
    completed = subprocess.run(
        [SALT_CALL, "--local", "--config-dir", CONFIG_DIR, "--out=json", "--retcode-passthrough",
         "-l", "quiet", "state.highstate"],
        capture_output=True, text=True, timeout=1800,
    )
    data = json.loads(completed.stdout)["local"] if completed.stdout.strip() else {}
    return completed.returncode, data, completed.stderr


def failures(states):
    return {key: value["comment"] for key, value in states.items() if value["result"] is not True}


@pytest.fixture(scope="module")
def first_highstate():
    assert os.geteuid() == 0, "the apply tier runs as root on an appliance host (./appliance test)"
    return apply_highstate()


@pytest.fixture(scope="module")
def secrets():
    return appliance_secrets()


def test_highstate_applies_without_failures(first_highstate):
    returncode, states, stderr = first_highstate
    assert isinstance(states, dict) and states, stderr
    assert failures(states) == {}
    assert returncode == 0


def listeners():
    """(address, port) of every listening TCP socket on the host."""
    output = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in output.splitlines():
        local = line.split()[3]
        address, _, port = local.rpartition(":")
        found.append((address.strip("[]").split("%")[0], int(port)))
    return found


def test_internal_services_listen_on_loopback_only(first_highstate):
    found = listeners()
    for port, name in INTERNAL_PORTS.items():
        addresses = [address for address, listening_port in found if listening_port == port]
        assert addresses, f"nothing listens on {port} ({name})"
        for address in addresses:
            assert address != "*" and ipaddress.ip_address(address).is_loopback, (
                f"{name} listens on {address}:{port}"
            )


def test_nginx_serves_https_and_redirects_http(first_highstate):
    ports = {port for _, port in listeners()}
    assert {80, 443} <= ports
    redirect = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                               "http://localhost/api/v1/health"], capture_output=True, text=True)
    assert redirect.stdout == "301 https://localhost/api/v1/health"
    health = subprocess.run(["curl", "-sS", "--cacert", "/etc/raycrafter/tls/api.crt",
                             "https://localhost/api/v1/health"], capture_output=True, text=True)
    assert health.returncode == 0, health.stderr
    assert json.loads(health.stdout)["database"] in ("ok", True)


def test_raycrafter_admin_is_on_roots_path_and_finds_its_configuration(first_highstate):
    environment = {key: value for key, value in os.environ.items()
                   if key != "RAYCRAFTER_API_CONFIG"}
    environment["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    listing = subprocess.run(["raycrafter-admin", "user", "list"], capture_output=True,
                             text=True, env=environment)
    assert listing.returncode == 0, listing.stderr
    assert any(line.split()[1:3] == ["admin", "admin"] for line in listing.stdout.splitlines()[1:])


def test_rabbitmq_guest_user_is_removed(first_highstate):
    output = subprocess.run(["rabbitmqctl", "-q", "list_users", "--formatter", "json"],
                            capture_output=True, text=True, check=True).stdout
    users = {user["user"] for user in json.loads(output)}
    assert "guest" not in users
    assert {"raycrafter-api", "raycrafter-worker"} <= users


def broker_channel(user, password):
    parameters = pika.ConnectionParameters(
        host="127.0.0.1", virtual_host="raycrafter", credentials=pika.PlainCredentials(user, password),
        connection_attempts=3, retry_delay=1,
    )
    connection = pika.BlockingConnection(parameters)
    channel = connection.channel()
    channel.confirm_delivery()
    return connection, channel


def test_api_user_publishes_commands_but_cannot_reach_queues(first_highstate, secrets):
    connection, channel = broker_channel("raycrafter-api", secrets["rabbitmq_api_password"])
    try:
        channel.exchange_declare(EXCHANGE, exchange_type="direct", durable=True)
        channel.basic_publish(EXCHANGE, "no-such-route", b"{}")
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            channel.basic_publish("", QUEUE, b"{}")
        assert refused.value.reply_code == 403
    finally:
        connection.close()

    connection, channel = broker_channel("raycrafter-api", secrets["rabbitmq_api_password"])
    try:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            channel.queue_declare(QUEUE, durable=True)
        assert refused.value.reply_code == 403
    finally:
        connection.close()


def test_worker_user_cannot_publish_commands(first_highstate, secrets):
    connection, channel = broker_channel("raycrafter-worker", secrets["rabbitmq_worker_password"])
    try:
        channel.queue_declare(QUEUE, durable=True)
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            channel.basic_publish(EXCHANGE, ROUTING_KEY, b"{}")
        assert refused.value.reply_code == 403
    finally:
        connection.close()


def test_sshd_offers_public_keys_only(first_highstate):
    transport = paramiko.Transport(("127.0.0.1", 22))
    try:
        transport.start_client(timeout=10)
        with pytest.raises(paramiko.BadAuthenticationType) as offered:
            transport.auth_password("render", "any password at all")
        assert offered.value.allowed_types == ["publickey"]
    finally:
        transport.close()


@pytest.mark.parametrize("path, owner", [
    ("/etc/raycrafter/pillar/secrets.sls", "root"),
    ("/etc/raycrafter/api/api.toml", "raycrafter-api"),
    ("/etc/raycrafter/api/admin.token", "root"),
    ("/etc/raycrafter/api/worker.token", "root"),
    ("/etc/raycrafter/tls/api.key", "root"),
    ("/etc/raycrafter/worker/worker.toml", "raycrafter-worker"),
    ("/etc/raycrafter/worker/api.token", "raycrafter-worker"),
    ("/etc/raycrafter/worker/standin.key", "raycrafter-worker"),
    ("/etc/ssh/ssh_host_raycrafter_ed25519_key", "root"),
])
def test_secret_files_are_private(first_highstate, path, owner):
    status = os.stat(path)
    assert stat.S_IMODE(status.st_mode) == 0o600, f"{path} is {oct(stat.S_IMODE(status.st_mode))}"
    assert pwd.getpwuid(status.st_uid).pw_name == owner
    assert grp.getgrgid(status.st_gid).gr_name in (owner, "root")


def worker_ssh_client():
    """An SSH client as the worker connects: its key, the pinned host key, nothing else."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(WORKER_DIR / "standin.known_hosts"))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    key = paramiko.Ed25519Key.from_private_key(io.StringIO((WORKER_DIR / "standin.key").read_text()))
    client.connect("127.0.0.1", port=22, username="render", pkey=key, look_for_keys=False,
                   allow_agent=False, timeout=10)
    return client


def run(client, command):
    _, stdout, stderr = client.exec_command(command, timeout=30)
    status = stdout.channel.recv_exit_status()
    return status, stdout.read().decode(), stderr.read().decode()


def test_qsub_over_ssh_with_the_worker_key_runs_a_job_to_completion(first_highstate):
    client = worker_ssh_client()
    try:
        marker = f"apply-tier-{os.getpid()}-{time.time_ns()}"
        script = f"#!/bin/bash\n#PBS -N {marker}\n#PBS -l walltime=00:01:00\necho done $SLURM_JOB_ID\n"
        status, _, err = run(client, f"mkdir -p ~/{marker} && cat > ~/{marker}/job.sh <<'EOF'\n{script}EOF")
        assert status == 0, err
        status, out, err = run(client, f"cd ~/{marker} && qsub -o out.txt -e err.txt job.sh")
        assert status == 0, err
        batch_id = out.strip()
        assert batch_id.isdigit()
        deadline = time.monotonic() + 60
        output = ""
        while time.monotonic() < deadline:
            _, output, _ = run(client, f"cat ~/{marker}/out.txt 2>/dev/null")
            if output:
                break
            time.sleep(0.5)
        assert output.strip() == f"done {batch_id}"
        run(client, f"rm -rf ~/{marker}")
    finally:
        client.close()


def wait_for_accounting(client, batch_id, timeout=90):
    """sacct's record of a batch job once it has ended: state and exit code."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, out, _ = run(client, f"sacct -n -P -X -j {batch_id} --format=State,ExitCode")
        state, _, exit_code = out.strip().partition("|")
        if state and state not in ("PENDING", "RUNNING", "COMPLETING"):
            return state, exit_code
        time.sleep(1)
    raise AssertionError(f"sacct has no end of batch job {batch_id}")


def test_accounting_knows_why_a_batch_job_ended_and_enforces_a_qos_limit(first_highstate):
    """slurmdbd answers sacct after a job has left the queue (its state and exit code),
    and a QOS limit on the cluster user's association is enforced at submission, with
    Slurm's own refusal."""
    client = worker_ssh_client()
    marker = f"apply-accounting-{os.getpid()}-{time.time_ns()}"
    try:
        status, out, err = run(client, f"mkdir -p ~/{marker} && cd ~/{marker} && "
                                       "sbatch --parsable -o out -e err --wrap 'exit 3'")
        assert status == 0, err
        batch_id = out.strip().split(";")[0]
        assert wait_for_accounting(client, batch_id) == ("FAILED", "3:0")
        subprocess.run(["sacctmgr", "-i", "add", "qos", marker, "MaxSubmitJobsPerUser=1"],
                       check=True, capture_output=True)
        subprocess.run(["sacctmgr", "-i", "modify", "user", "render", "set", f"QOS={marker}",
                        f"DefaultQOS={marker}"], check=True, capture_output=True)
        first = run(client, f"cd ~/{marker} && sbatch --parsable -o out -e err --wrap 'sleep 30'")
        second = run(client, f"cd ~/{marker} && sbatch --parsable -o out -e err --wrap 'sleep 30'")
        assert first[0] == 0, first[2]
        assert second[0] == 1 and "QOSMaxSubmitJobPerUserLimit" in second[2], second
        run(client, f"scancel {first[1].strip().split(';')[0]}")
    finally:
        subprocess.run(["sacctmgr", "-i", "modify", "user", "render", "set", "QOS=normal",
                        "DefaultQOS=normal"], capture_output=True)
        subprocess.run(["sacctmgr", "-i", "delete", "qos", marker], capture_output=True)
        run(client, f"rm -rf ~/{marker}")
        client.close()


def test_a_second_highstate_changes_nothing(first_highstate):
    returncode, states, stderr = apply_highstate()
    assert returncode == 0, stderr
    assert failures(states) == {}
    changed = {key: value["changes"] for key, value in states.items() if value["changes"]}
    assert changed == {}


def test_a_broker_password_beginning_with_a_dash_works(first_highstate, secrets):
    """Generated secrets never begin with '-', but one set by hand may: the states hand
    passwords to rabbitmqctl on stdin and after '--', never as an option-like argument."""
    dashed = "-" + secrets["rabbitmq_worker_password"][1:]
    pillar = {"raycrafter_secrets": {"rabbitmq_worker_password": dashed}}
    try:
        applied = apply_sls("salt.rabbitmq.users", pillar)
        assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-2000:]
        connection, _ = broker_channel("raycrafter-worker", dashed)
        connection.close()
    finally:
        restored = apply_sls("salt.rabbitmq.users")
    assert restored.returncode == 0, restored.stdout[-3000:]
    connection, _ = broker_channel("raycrafter-worker", secrets["rabbitmq_worker_password"])
    connection.close()


def apply(sls):
    done = apply_sls(sls)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_a_component_is_cleaned_away_and_comes_back(first_highstate):
    """salt.cli.clean removes the CLI (command, virtualenv, root's settings); applying
    salt.cli again brings it back working."""
    apply("salt.cli.clean")
    assert not pathlib.Path("/usr/local/bin/raycrafter").exists()
    assert not pathlib.Path("/opt/raycrafter/cli").exists()
    assert not pathlib.Path("/root/.config/raycrafter/client.toml").exists()
    apply("salt.cli")
    version = subprocess.run(["/usr/local/bin/raycrafter", "--version"], capture_output=True,
                             text=True, check=True).stdout
    assert version.startswith("raycrafter ")


# Daemons Salt starts through Debian's init scripts whose status trusts the pid file alone:
# (service, its pid file, its process name, the state that starts it).
PID_FILE_DAEMONS = [
    ("nginx", "/run/nginx.pid", "nginx", "salt.nginx"),
    ("ssh", "/run/sshd.pid", "sshd", "salt.cluster.sshd"),
    ("cron", "/run/crond.pid", "cron", "salt.backup"),
    ("exim4", "/run/exim4/exim.pid", "exim4", "salt.mta"),
]


def pid_file_owner(pid_file):
    """The name of the process whose pid the file holds ("" for none: a daemon writes its
    pid a moment after its init script returns)."""
    try:
        pid = pathlib.Path(pid_file).read_text().strip()
    except FileNotFoundError:
        return ""
    return subprocess.run(["ps", "-p", pid, "-o", "comm="], capture_output=True,
                          text=True).stdout.strip() if pid else ""


def test_daemons_start_again_when_their_dead_pids_were_reused(first_highstate):
    """Each daemon died leaving its pid file, and another program got that pid: Debian's
    init script calls the daemon running then, so Salt must clear the file and start it."""
    states = ",".join(sls for _, _, _, sls in PID_FILE_DAEMONS)
    squatters = []
    try:
        for service, pid_file, process, _ in PID_FILE_DAEMONS:
            subprocess.run(["service", service, "stop"], check=True, capture_output=True)
            # Some init scripts (ssh's) only signal the daemon, which removes its pid file
            # as it exits: only then is the file ours to write.
            wait_for(lambda: pid_file_owner(pid_file) != process, timeout=30, interval=0.2,
                     message=f"{service} to stop")
            squatters.append(subprocess.Popen(["sleep", "600"]))
            pathlib.Path(pid_file).write_text(f"{squatters[-1].pid}\n")
            status = subprocess.run(["service", service, "status"], capture_output=True)
            assert status.returncode == 0, f"{service}'s init script no longer trusts a stale pid"
        apply(states)
        assert all(squatter.poll() is None for squatter in squatters)
        expected = {service: process for service, _, process, _ in PID_FILE_DAEMONS}

        def owners():
            return {service: pid_file_owner(pid_file) for service, pid_file, _, _ in PID_FILE_DAEMONS}

        wait_for(lambda: owners() == expected, timeout=30, interval=0.5,
                 message="each daemon's pid in its own pid file")
    finally:
        for squatter in squatters:
            squatter.kill()
            squatter.wait()
        apply(states)


def secret_fragments(values):
    """What of each secret must never show: the value, and each long line of a key."""
    fragments = set()
    for value in values:
        fragments |= {line for line in value.splitlines() if len(line) >= 16 and "-----" not in line}
        fragments.add(value.strip())
    return fragments


def test_no_secret_is_a_process_argument_or_in_salts_output_even_when_one_is_rotated(
        first_highstate, secrets):
    """A secret rotated the operator's way (generate_secrets.py --rotate, then a
    highstate): every command the highstate runs is traced (strace, execve with whole
    arguments) and neither the old value, the new one nor any other secret is in an
    argument, in Salt's output, or in the minion's log."""
    log_file = pathlib.Path("/var/log/raycrafter/salt-minion.log")
    log_offset = log_file.stat().st_size if log_file.exists() else 0
    rotated = subprocess.run([SALT_PYTHON, str(GENERATOR), str(SECRETS_FILE), "--gpg-keydir",
                              str(GPG_KEYDIR), "--rotate", "rabbitmq_worker_password"],
                             capture_output=True, text=True)
    assert rotated.returncode == 0, rotated.stderr
    after = appliance_secrets()
    assert after["rabbitmq_worker_password"] != secrets["rabbitmq_worker_password"]
    trace = pathlib.Path("/tmp/raycrafter-highstate.strace")
    applied = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=execve", "-s", "65536", "-o", str(trace),
         SALT_CALL, "--local", "--config-dir", CONFIG_DIR, "--out=json", "--retcode-passthrough",
         "-l", "info", "--state-output=full", "state.highstate"],
        capture_output=True, text=True, timeout=1800)
    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-2000:]
    states = json.loads(applied.stdout)["local"]
    assert any(value["changes"] for key, value in states.items() if "worker-config" in key)
    traced = trace.read_text(errors="replace")
    trace.unlink()
    assert traced.count("execve(") > 50
    with log_file.open(errors="replace") as log:
        log.seek(log_offset)
        logged = log.read()
    fragments = secret_fragments(list(secrets.values()) + [after["rabbitmq_worker_password"]])
    for where, text in (("a process's arguments", traced), ("Salt's output", applied.stdout + applied.stderr),
                        ("the minion's log", logged)):
        shown = [fragment[:6] + "..." for fragment in fragments if fragment in text]
        assert not shown, f"secrets in {where}: {shown}"
    # The worker runs with the new password.
    connection, _ = broker_channel("raycrafter-worker", after["rabbitmq_worker_password"])
    connection.close()
