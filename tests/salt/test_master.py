"""Under a salt master: a master and a minion started by pytest-salt-factories apply the
`logging` role to this host through the master, as a multi-host deployment would.

The master serves this repository's state tree and the same pillar the appliance uses
(the repository's pillar top and the generated secrets in /etc/raycrafter/pillar, with
the appliance's key to decrypt them), and assigns the minion the `logging` role in a
roles.yaml of its own, so the apply is the one `./appliance up` made, run again over the
master's channels: idempotent, and the running log server stays as it is.
"""
import json
import pathlib
import socket
import time
import tomllib
import uuid

import pytest
from raycrafter_contract import log_credentials

from support.salt_tree import REPOSITORY, write_assignment

pytestmark = pytest.mark.apply

PILLAR_DIR = pathlib.Path("/etc/raycrafter/pillar")
GPG_KEYDIR = pathlib.Path("/etc/raycrafter/gpg")
MINION_ID = "raycrafter-logging"
GELF_ADDRESS = ("127.0.0.1", 12201)
RECORDS_FILE = pathlib.Path("/var/log/raycrafter/gelf/records.jsonl")
LOGSERVER_CONFIG = pathlib.Path("/etc/raycrafter/logserver/logserver.toml")
# Linux's limit for a Unix socket path (sizeof(sockaddr_un.sun_path) less the final NUL).
AF_UNIX_PATH_MAX = 107


def init_is_systemd():
    return pathlib.Path("/proc/1/comm").read_text().strip() == "systemd"


def daemon_path(factory, key):
    path = pathlib.Path(factory.config[key])
    return path if path.is_absolute() else pathlib.Path(factory.config["root_dir"]) / path


@pytest.fixture(scope="module")
def salt_master(salt_factories, tmp_path_factory):
    assert (PILLAR_DIR / "secrets.sls").is_file(), "the apply tier needs an applied appliance (./appliance up)"
    # The master's word on the minion's roles, found before the appliance's own roles.yaml.
    assignment = tmp_path_factory.mktemp("assignment")
    write_assignment(assignment, {MINION_ID: ["logging"]})
    overrides = {
        "interface": "127.0.0.1",
        "file_roots": {"base": [str(REPOSITORY)]},
        "pillar_roots": {"base": [str(REPOSITORY / "pillar"), str(assignment), str(PILLAR_DIR)]},
        "gpg_keydir": str(GPG_KEYDIR),
        "file_ignore_regex": [r"/\.git($|/)", r"/__pycache__($|/)"],
        "state_top": "top.sls",
    }
    factory = salt_factories.salt_master_daemon("raycrafter-master", overrides=overrides)
    with factory.started(start_timeout=60):
        yield factory


@pytest.fixture(scope="module")
def logging_minion(salt_master):
    overrides = {}
    if not init_is_systemd():
        overrides["disable_modules"] = ["systemd_service"]
    factory = salt_master.salt_minion_daemon(MINION_ID, overrides=overrides)
    with factory.started(start_timeout=60):
        # A job's process hands its return to the minion's main process over the minion's
        # event bus; without that socket no job ever returns (see tests/conftest.py).
        sock_dir = daemon_path(factory, "sock_dir")
        pull_sockets = [path for path in sock_dir.glob("minion_event_*_pull.ipc") if path.is_socket()]
        assert pull_sockets, (
            f"the minion's event bus is not bound in {sock_dir}: is a socket path there longer "
            f"than {AF_UNIX_PATH_MAX} bytes? See {factory.config['log_file']}"
        )
        yield factory


def log_credential(job_id):
    """A log credential for ``job_id``, signed with the key the applied log server holds."""
    with LOGSERVER_CONFIG.open("rb") as config:
        key = tomllib.load(config)["credential_key"].encode()
    return log_credentials.issue(key, job_id, 1, int(time.time()) + 600)


def gelf_record_arrives(marker, credential=None, timeout=15):
    """Send one GELF record over TCP and wait for the log server to write it out (None if
    it did not)."""
    offset = RECORDS_FILE.stat().st_size if RECORDS_FILE.exists() else 0
    record = {"version": "1.1", "host": socket.gethostname(), "short_message": marker}
    if credential is not None:
        record[log_credentials.RECORD_FIELD] = credential
    with socket.create_connection(GELF_ADDRESS, timeout=5) as connection:
        connection.sendall(json.dumps(record).encode() + b"\0")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if RECORDS_FILE.exists():
            with RECORDS_FILE.open("rb") as records:
                records.seek(offset)
                lines = [line for line in records.read().splitlines() if marker.encode() in line]
            if lines:
                return json.loads(lines[0])
        time.sleep(0.2)
    return None


def test_logging_role_applies_through_the_master(salt_master, logging_minion):
    # The minion is this host, which the test suite shares: its firewall stays its own.
    ret = salt_master.salt_cli(timeout=120).run(
        "state.apply", 'pillar={"raycrafter": {"firewall": {"enabled": false}}}',
        minion_tgt=logging_minion.id)
    assert ret.returncode == 0, (ret.stdout, ret.stderr)
    states = ret.data
    assert isinstance(states, dict) and states, ret.stdout
    assert {key: value["comment"] for key, value in states.items() if value["result"] is not True} == {}
    state_ids = {value["__id__"] for value in states.values()}
    assert "logserver-config-file-managed" in state_ids
    assert "postgres-service-running" not in state_ids

    # What the role runs answers: a GELF record with a log credential sent over TCP lands
    # in the records file, filed under the credential's job; one without is refused.
    unsigned = f"salt-master-test-{uuid.uuid4()}"
    assert gelf_record_arrives(unsigned, timeout=5) is None
    marker = f"salt-master-test-{uuid.uuid4()}"
    record = gelf_record_arrives(marker, log_credential(424242))
    assert record is not None, f"the record {marker} did not reach {RECORDS_FILE}"
    assert (record["short_message"], record["_job_id"]) == (marker, "424242")
