"""The login node as the site agent reaches it, itself: commands in the account's login
shell with a deadline, files copied by one command whose failures are classified as every
failed command on a login node is, and the login node's gateway started, found running,
and started again when it was killed."""
import os
import signal
import socket
import subprocess
import sys

import pytest

from raycrafter_worker import config as worker_config
from raycrafter_worker import gateway
from raycrafter_worker.errors import PermanentError, TransientError
from raycrafter_worker.local_transport import LocalStager, LocalTransport
from support.polling import wait_for

GATEWAY = os.path.join(os.path.dirname(sys.executable), "raycrafter-gateway")


def pull_profile(scratch, **keys):
    return worker_config.parse_profile("north", {
        "access": "pull", "scheduler": "slurm", "launcher": "srun", "scratch": str(scratch),
        "nodeagent": "/opt/rc/bin/raycrafter-nodeagent",
        "agent_api_url": "https://raycrafter.example.org", "command_timeout_seconds": 5,
        **keys})


def test_commands_run_in_the_login_shell_with_their_input_and_status(tmp_path):
    transport = LocalTransport(pull_profile(tmp_path))
    assert transport.shell == subprocess.run(["getent", "passwd", str(os.getuid())],
                                             capture_output=True, text=True
                                             ).stdout.strip().split(":")[-1]
    result = transport.run("read -r line; echo \"got $line\"; echo oops >&2; exit 3",
                           stdin="a token\n")
    assert (result.status, result.stdout, result.stderr) == (3, "got a token\n", "oops\n")


def test_a_command_past_its_deadline_is_transient(tmp_path):
    transport = LocalTransport(pull_profile(tmp_path))
    with pytest.raises(TransientError, match="did not finish within 1 s"):
        transport.run("sleep 30", timeout=1)


def test_files_are_copied_by_one_command_and_a_failed_copy_says_why(tmp_path):
    transport = LocalTransport(pull_profile(tmp_path))
    stager = LocalStager(transport)
    sources = []
    for name in ("scene.pov", "with space.inc", "new\nline.png"):
        path = tmp_path / "work" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(name.encode() * 100)
        sources.append(path)
    (tmp_path / "scratch").mkdir()
    pairs = [(str(path), str(tmp_path / "scratch" / path.name)) for path in sources]
    stager.upload(pairs, 0)
    assert [(tmp_path / "scratch" / p.name).read_bytes() for p in sources] == \
        [p.read_bytes() for p in sources]
    with pytest.raises(PermanentError, match="No such file or directory"):
        stager.download([(str(tmp_path / "scratch" / "missing.png"),
                          str(tmp_path / "work" / "m.png"))], 0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gateways():
    """Stops every gateway a test started, by the pids they wrote."""
    pid_files = []
    yield pid_files
    for path in pid_files:
        try:
            os.kill(int(open(path).read()), signal.SIGTERM)
        except (OSError, ValueError):
            pass


def test_the_gateway_is_started_found_running_and_started_again_once_killed(tmp_path,
                                                                           gateways):
    port = free_port()
    profile = pull_profile(tmp_path, gateway_host="127.0.0.1", gateway_port=port,
                           log_host="127.0.0.1", log_port=12201,
                           gateway_log_port=free_port(), gateway_program=GATEWAY)
    transport = LocalTransport(profile)
    pid_file = f"{profile.jobs_root}/.gateway/{socket.gethostname()}.pid"
    gateways.append(pid_file)
    ensure = gateway.ensure_command(profile)
    assert transport.run(ensure).stdout == "started\n"
    first = int(open(pid_file).read())
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    assert transport.run(ensure).stdout == "running\n"
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: not os.path.exists(f"/proc/{first}/cmdline")
             or open(f"/proc/{first}/stat").read().split()[2] == "Z", timeout=10,
             message="the gateway killed")
    assert transport.run(ensure).stdout == "started\n"
    assert int(open(pid_file).read()) != first
    assert oct(os.stat(os.path.dirname(pid_file)).st_mode & 0o777) == "0o700"


def test_a_gateway_that_cannot_start_fails_the_command_with_its_words(tmp_path, gateways):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    profile = pull_profile(tmp_path, gateway_host="127.0.0.1",
                           gateway_port=taken.getsockname()[1], gateway_program=GATEWAY)
    gateways.append(f"{profile.jobs_root}/.gateway/{socket.gethostname()}.pid")
    with taken:
        result = LocalTransport(profile).run(gateway.ensure_command(profile))
    assert result.status == 1
    assert "the gateway did not start on" in result.stderr
    assert "Address already in use" in result.stderr
    missing = pull_profile(tmp_path, gateway_host="127.0.0.1", gateway_port=free_port(),
                           gateway_program="/nonexistent/raycrafter-gateway")
    result = LocalTransport(missing).run(gateway.ensure_command(missing))
    assert result.status == 1 and "No such file or directory" in result.stderr
