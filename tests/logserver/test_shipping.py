"""raycrafter-logship following a host's program log files into the log server, both real
processes, over TLS with the host's credential: every line once, across Debian's
logrotate (a file renamed and a new one created, and a file copied and truncated), across
a log server that was down meanwhile, and across a restart of the shipper; and the lines
found with raycrafter-logs --program and --since."""
import os
import subprocess
import sys
import time

from raycrafter_contract import log_credentials

from support.certificates import ThrowawayCa
from support.polling import wait_for
from support.worker_harness import toml_value


class ShipperProcess:
    def __init__(self, directory, server, ca_file, credential, sources):
        self.directory = str(directory)
        os.makedirs(self.directory, exist_ok=True)
        self.config_file = os.path.join(self.directory, "logship.toml")
        values = {"host": "localhost", "port": server.port, "ca_file": str(ca_file),
                  "credential": credential, "hostname": "web-1",
                  "state_file": os.path.join(self.directory, "positions.json"),
                  "poll_seconds": 0.2, "retry_seconds": 0.5}
        with open(self.config_file, "w") as handle:
            handle.writelines(f"{key} = {toml_value(value)}\n" for key, value in values.items())
            for pattern, program in sources:
                handle.write(f"[[sources]]\npattern = {toml_value(pattern)}\n"
                             f"program = {toml_value(program)}\n")
        self._process = None

    def start(self):
        self._output = open(os.path.join(self.directory, "logship.out"), "ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "raycrafter_logserver.shipping", "--config",
             self.config_file], stdout=self._output, stderr=subprocess.STDOUT)
        state = os.path.join(self.directory, "positions.json")
        wait_for(lambda: os.path.exists(state), timeout=20, message="the shipper's first look")
        return self

    def stop(self):
        self._process.terminate()
        self._process.wait(20)
        self._output.close()

    def output(self):
        with open(os.path.join(self.directory, "logship.out"), errors="replace") as handle:
            return handle.read()


def append(path, *lines):
    with open(path, "a") as handle:
        handle.writelines(line + "\n" for line in lines)


def logrotate(tmp_path, path, mode):
    config = tmp_path / f"logrotate-{mode}.conf"
    config.write_text(f"{path} {{\n  rotate 4\n  {mode}\n  compress\n  delaycompress\n"
                      f"  missingok\n}}\n")
    subprocess.run(["logrotate", "-f", "-s", str(tmp_path / "logrotate.state"), str(config)],
                   check=True, capture_output=True)


def messages(server, program):
    return [record["short_message"] for record in server.records()
            if record.get("_program") == program]


def setup(log_server, tmp_path):
    ca = ThrowawayCa(tmp_path / "ca")
    certificate = ca.issue("localhost")
    server = log_server(cert_file=certificate.cert_file, key_file=certificate.key_file,
                        )
    credential = log_credentials.issue_for_host(server.key.encode(), "web-1")
    logs = tmp_path / "var-log"
    logs.mkdir()
    return server, ca, credential, logs


def test_every_line_once_across_logrotate_a_log_server_down_and_a_restart(log_server,
                                                                         tmp_path):
    server, ca, credential, logs = setup(log_server, tmp_path)
    access, postgres = logs / "access.log", logs / "postgresql-15-main.log"
    append(access, "old line, before the shipper")
    append(postgres, "old postgres line")
    shipper = ShipperProcess(tmp_path / "ship", server, ca.cert_file, credential,
                             [(str(logs / "access.log"), "nginx"),
                              (str(logs / "postgresql-*.log"), "postgresql")]).start()
    try:
        append(access, *[f"GET /api/v1/jobs/{n}" for n in range(5)])
        append(postgres, "LOG:  checkpoint starting: time")
        wait_for(lambda: len(messages(server, "nginx")) == 5, timeout=20,
                 message="nginx's five lines")
        # Renamed and created anew (nginx's rotation), lines before and after.
        append(access, "GET /before-rename")
        logrotate(tmp_path, access, "create")
        append(str(access) + ".1", "GET /written-late-to-the-old-file")  # before nginx reopens
        append(access, "GET /after-rename")
        # Copied and truncated in place (PostgreSQL's rotation in Debian's logrotate).
        append(postgres, "LOG:  before copytruncate")
        logrotate(tmp_path, postgres, "copytruncate")
        append(postgres, "LOG:  after copytruncate")
        wait_for(lambda: "GET /after-rename" in messages(server, "nginx")
                 and "LOG:  after copytruncate" in messages(server, "postgresql"),
                 timeout=20, message="the lines after the rotations")

        # The log host goes away: lines and another rotation meanwhile, nothing lost.
        server.stop()
        append(access, *[f"GET /while-down/{n}" for n in range(3)])
        logrotate(tmp_path, access, "create")
        append(access, "GET /after-the-second-rename")
        time.sleep(1.5)  # the shipper tries, fails, and keeps its positions
        server.start()
        wait_for(lambda: "GET /after-the-second-rename" in messages(server, "nginx"),
                 timeout=30, message="the lines sent once the log host is back")
    finally:
        shipper.stop()
    # A restart resumes where the log server stopped taking.
    append(access, "GET /while-the-shipper-was-stopped")
    shipper.start()
    try:
        wait_for(lambda: "GET /while-the-shipper-was-stopped" in messages(server, "nginx"),
                 timeout=20, message="the line written while the shipper was stopped")
        append(access, "GET /last")
        wait_for(lambda: "GET /last" in messages(server, "nginx"), timeout=20,
                 message="the last line")
    finally:
        shipper.stop()

    assert messages(server, "nginx") == (
        [f"GET /api/v1/jobs/{n}" for n in range(5)]
        + ["GET /before-rename", "GET /written-late-to-the-old-file", "GET /after-rename"]
        + [f"GET /while-down/{n}" for n in range(3)]
        + ["GET /after-the-second-rename", "GET /while-the-shipper-was-stopped", "GET /last"])
    assert messages(server, "postgresql") == [
        "LOG:  checkpoint starting: time", "LOG:  before copytruncate",
        "LOG:  after copytruncate"]
    # The host is the credential's; no batch job is named.
    assert {(record["_host"], record.get("_job_id")) for record in server.records()} == {
        ("web-1", None)}
    assert "lines lost" not in shipper.output()

    def search(*options):
        found = subprocess.run([sys.executable, "-m", "raycrafter_logserver.search",
                                "--config", server.config_file, *options],
                               capture_output=True, text=True, timeout=60)
        assert found.returncode == 0, found.stderr
        return found.stdout.splitlines()

    found = search("--program", "postgresql", "--since", "10m")
    assert [line.split(": ", 1)[1] for line in found] == messages(server, "postgresql")
    assert all(" postgresql web-1: " in line for line in found)
    assert search("--program", "nginx", "--grep", "while-down", "--since", "10m") \
        and not search("--program", "nginx", "--since", "2099-01-01")


def test_a_host_credential_names_its_host_and_no_other_key_signs_one(log_server, tmp_path):
    server, ca, credential, logs = setup(log_server, tmp_path)
    forged = log_credentials.issue_for_host(b"k" * 43, "db-1")
    shipper = ShipperProcess(tmp_path / "forged", server, ca.cert_file, forged,
                             [(str(logs / "syslog"), "salt-minion")])
    append(logs / "syslog", "before")
    shipper.start()
    try:
        append(logs / "syslog", "a line from a forged credential")
        wait_for(lambda: "a host credential this server's key did not sign"
                 in server.output(), timeout=20, message="the refusal reported")
    finally:
        shipper.stop()
    assert messages(server, "salt-minion") == []
