"""The host's programs' log lines reach the log server (salt/logship): nginx's and
PostgreSQL's, written by the programs themselves, found with ``raycrafter-admin logs
--program`` as an operator finds them, named by the host's credential."""
import subprocess
import uuid

import requests
from conftest import BASE_URL, CA_FILE
from support.polling import wait_for

ADMIN = "/usr/local/sbin/raycrafter-admin"


def search(*options):
    found = subprocess.run([ADMIN, "logs", "--since", "10m", *options], capture_output=True,
                           text=True, timeout=60)
    assert found.returncode == 0, found.stderr
    return found.stdout.splitlines()


def test_the_shipper_runs_as_root_with_its_credential_for_root_alone(appliance):
    status = subprocess.run(["supervisorctl", "status", "raycrafter-logship"],
                            capture_output=True, text=True)
    assert "RUNNING" in status.stdout, status.stdout
    listing = subprocess.run(["stat", "-c", "%a %U", "/etc/raycrafter/logship/logship.toml"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert listing == ["600", "root"]


def test_nginx_and_postgresql_lines_reach_the_log_server(appliance):
    marker = uuid.uuid4().hex
    # nginx writes the request it answered (404) to its access log.
    answer = requests.get(f"{BASE_URL}/api/v1/no-such-page-{marker}", verify=CA_FILE,
                          timeout=30)
    assert answer.status_code == 404
    # PostgreSQL writes a LOG message to its server log.
    subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-q", "-c",
                    f"DO $$ BEGIN RAISE LOG 'logship {marker}'; END $$"],
                   check=True, capture_output=True, timeout=60)
    for program, text in (("nginx", f"GET /api/v1/no-such-page-{marker}"),
                          ("postgresql", f"logship {marker}")):
        wait_for(lambda: any(text in line for line in search("--program", program,
                                                             "--grep", marker)),
                 timeout=30, interval=0.5, message=f"{program}'s line on the log server")
        lines = search("--program", program, "--grep", marker)
        # The time, the level, the program, the host the credential names, the line
        # (PostgreSQL adds the statement's line, which holds the marker too).
        assert all(f" {program} localhost: " in line for line in lines), lines
        assert [line for line in lines if text in line], lines
    # A program's lines are no job's.
    assert not any(marker in line for line in search("--job", "1"))
