"""The appliance across hosts: from nothing to a rendered job and back to nothing.

The tests run in this file's order: the session fixture `hosts` brings every host up, the
last test takes them down.
"""
import collections
import json
import os
import re
import shlex
import subprocess
import time
import tomllib
import uuid

import pytest
from raycrafter_contract import log_credentials

from support.alert_receiver import (FIRING_WITHIN, RESOLVED_WITHIN, WORKER_DOWN, AlertReceiver,
                                    receiver_pillar)
from support.cluster_records import JOB_COMPLETION_LOG, completion_records_in
from support.hosts import (BRIDGE, BRIDGE_ADDRESS, REPOSITORY, appliance_hosts,
                           machine_addresses, machine_roles)
from support.loopback_http import serving
from support.salt_tree import CATALOGUE, ROLES
from support.polling import wait_for

pytestmark = pytest.mark.hosts

# What a host must never hold unless it has the role: {secret: roles that hold it}.
SECRET_HOLDERS = {
    "cluster_ssh_private_key": {"worker"},
    "postgres_password": {"db", "web"},
    "api_admin_token": {"web"},
    "rabbitmq_api_password": {"broker", "web"},
    "rabbitmq_worker_password": {"broker", "worker"},
}
# Nobody holds the deployment CA's key: the master issues every certificate (pillar/tls.sls).
UNHELD_SECRETS = ("tls_ca_private_key",)
# Where a host keeps what Salt put there (configuration, the components, their data).
SEARCHED = "/etc /opt/raycrafter /var/lib/raycrafter /srv /home /root"


def highstate_steps(orchestration):
    """The salt.state steps of one orchestration run (salt/orch/highstate.sls)."""
    steps = orchestration["data"]["master_master"].values()
    return [step for step in steps if step["__id__"].startswith("orch-highstate-stage-")]


def test_every_host_is_up_and_its_highstate_failed_nothing(hosts):
    answered = hosts.salt_json("'*'", "test.ping")
    assert set(answered) == set(ROLES)
    assert all(answered.values())
    if hosts.reused:
        # Hosts left up by an earlier run: their first highstates are not ours to see, and
        # a new orchestration prints no summary for a host it leaves unchanged.
        steps = highstate_steps(hosts.orchestrate())
        assert steps and all(step["result"] for step in steps), [step["comment"] for step in steps]
        return
    # The orchestration prints one summary per minion's highstate: each with Failed: 0.
    summaries = re.findall(r"Summary for (\S+)\s*\n\s*-+\s*\n\s*Succeeded: \d+.*\n\s*Failed:\s+(\d+)",
                           hosts.first_up)
    assert {minion for minion, _ in summaries} == set(ROLES) | {"master_master"}
    assert all(failed == "0" for _, failed in summaries), summaries


def test_a_second_provision_changes_nothing(hosts):
    steps = highstate_steps(hosts.orchestrate())
    assert steps and all(step["result"] for step in steps), [step["comment"] for step in steps]
    # salt.state lists only the minions with changes (or failures) under its changes, and
    # names the others in its comment: "... No changes made to db, broker, logging."
    changed = {minion: sorted(state["__id__"] for state in ret.values() if state["changes"])
               for step in steps for minion, ret in step["changes"].get("ret", {}).items()}
    assert not changed, changed
    unchanged = set()
    for step in steps:
        named = re.search(r"No changes made to (.+)\.$", step["comment"])
        unchanged |= {minion.strip() for minion in named.group(1).split(",")} if named else set()
    assert unchanged == set(ROLES)


def test_each_host_has_only_its_roles_secrets_in_pillar(hosts):
    pillars = hosts.salt_json("'*'", "pillar.item", "raycrafter_secrets")
    for minion, pillar in pillars.items():
        held = set(pillar["raycrafter_secrets"])
        for secret, roles in SECRET_HOLDERS.items():
            assert (secret in held) == (minion in roles), f"{minion} and {secret}"
        assert not held & set(UNHELD_SECRETS), minion
        assert "tls_ca_certificate" in held, minion


def test_each_host_holds_a_certificate_for_its_own_name_only(hosts):
    for machine in ROLES:
        names = hosts.run(machine, "openssl x509 -noout -ext subjectAltName -in /etc/raycrafter/tls/host.crt")
        assert f"DNS:{machine}," in names, names
        assert not [other for other in ROLES if other != machine and f"DNS:{other}," in names]
        verified = hosts.run(machine, "openssl verify -CAfile /etc/raycrafter/tls/ca.crt /etc/raycrafter/tls/host.crt")
        assert verified.strip().endswith(": OK"), verified
        assert hosts.run(machine, "stat -c %a /etc/raycrafter/tls/host.key").strip() == "600"


@pytest.mark.parametrize("secret", sorted(SECRET_HOLDERS) + list(UNHELD_SECRETS))
def test_no_host_outside_the_roles_keeps_a_secret_on_disk(hosts, secrets, secret):
    # The value goes to each host on stdin, so it is in no command line or job record.
    value = secrets[secret]
    if "PRIVATE KEY" in value:
        # An ed25519 key's first lines are the same in every key; this one holds its seed.
        value = value.strip().splitlines()[-3]
    for machine in ROLES:
        if machine in SECRET_HOLDERS.get(secret, ()):
            continue
        found = hosts.run(machine, f"grep -rlF -f - {SEARCHED} 2>/dev/null || true", input=value + "\n")
        assert not found.strip(), f"{machine} holds {secret} in {found.split()}"


def test_services_listen_where_their_peers_reach_them(hosts):
    address = machine_addresses()
    listening = {role: hosts.run(role, "ss -Hltn") for role in ROLES}
    assert f"{address['db']}:5432 " in listening["db"]
    # Plain AMQP on loopback only; the other hosts get AMQP over TLS.
    assert f"{address['broker']}:5671 " in listening["broker"]
    assert "127.0.0.1:5672 " in listening["broker"] and f"{address['broker']}:5672 " not in listening["broker"]
    assert f"{address['logging']}:12201 " in listening["logging"]
    assert ":443 " in listening["web"] and ":22 " in listening["cluster"]
    # The database admits the API's host only.
    hba = hosts.run("db", "cat /etc/postgresql/15/main/pg_hba.conf")
    assert f"{address['web']}/32" in hba and f"{address['worker']}/32" not in hba


# Each link between hosts: (client, server, port, openssl's -starttls protocol or None).
LINKS = [
    ("web", "db", 5432, "postgres"),
    ("web", "broker", 5671, None),
    ("worker", "broker", 5671, None),
    ("cluster", "logging", 12201, None),
    ("worker", "logging", 12201, None),
    ("web", "logging", 12201, None),
    ("worker", "web", 443, None),
    ("cluster", "web", 443, None),
]
DEPLOYMENT_CA = "/etc/raycrafter/tls/ca.crt"
# A CA of nobody's deployment, made on the client: a certificate it "verifies" is unknown.
OTHER_CA = ("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
            "-days 1 -subj /CN=other -keyout /tmp/other-ca.key -out /tmp/other-ca.crt 2>/dev/null")


def tls_handshake(hosts, client, server, port, starttls, ca_file):
    """openssl's verdict on SERVER:PORT's certificate, seen from CLIENT: (exit status, output)."""
    command = (f"openssl s_client -connect {server}:{port} -servername {server} "
               f"-verify_hostname {server} -verify_return_error -CAfile {ca_file} "
               + (f"-starttls {starttls} " if starttls else "") + "</dev/null 2>&1; echo \"exit=$?\"")
    output = hosts.run(client, f"timeout 20 sh -c {shlex.quote(command)}")
    status = int(re.search(r"exit=(\d+)", output).group(1))
    return status, output


@pytest.mark.parametrize("client, server, port, starttls", LINKS,
                         ids=[f"{c}-{s}-{p}" for c, s, p, _ in LINKS])
def test_each_link_is_tls_with_a_certificate_verified_by_name(hosts, client, server, port, starttls):
    status, output = tls_handshake(hosts, client, server, port, starttls, DEPLOYMENT_CA)
    assert status == 0 and "Verify return code: 0 (ok)" in output, output
    # The same server against a CA that did not issue its certificate: refused.
    hosts.run(client, OTHER_CA)
    status, output = tls_handshake(hosts, client, server, port, starttls, "/tmp/other-ca.crt")
    # openssl names the chain it could not anchor: "unable to get local issuer certificate"
    # when the server sends its own certificate alone, "self-signed certificate in
    # certificate chain" when it sends the deployment CA's too (RabbitMQ does).
    assert status != 0 and "certificate verify failed" in output, output
    assert re.search(r"Verify return code: (19|20) ", output), output


def test_the_components_are_configured_to_verify_what_they_reach(hosts):
    api = hosts.run("web", "cat /etc/raycrafter/api/api.toml")
    assert re.search(r'database_url = "postgresql://[^"]*@db:5432/raycrafter\?sslmode=verify-full&sslrootcert=/etc/raycrafter/tls/ca.crt"', api), api
    assert re.search(r'amqp_url = "amqps://[^"]*@broker:5671/', api) and f'amqp_ca_file = "{DEPLOYMENT_CA}"' in api
    worker = hosts.run("worker", "cat /etc/raycrafter/worker/worker.toml")
    assert re.search(r'amqp_url = "amqps://[^"]*@broker:5671/', worker)
    assert 'api_url = "https://web"' in worker and f'ca_file = "{DEPLOYMENT_CA}"' in worker
    assert 'log_tls = true' in worker and f'log_ca_file = "{DEPLOYMENT_CA}"' in worker


def test_the_worker_refuses_a_broker_with_an_unknown_certificate(hosts):
    """The worker's own connection code, pointed at a TLS server whose self-signed
    certificate carries the broker's name: the handshake fails on verification."""
    hosts.run("worker", OTHER_CA)
    server = ("openssl s_server -quiet -accept 127.0.0.1:15671 -cert /tmp/other-ca.crt "
              "-key /tmp/other-ca.key >/dev/null 2>&1 & echo $! > /tmp/s_server.pid; sleep 1")
    hosts.run("worker", server)
    try:
        probe = ("import pika, sys\n"
                 "from raycrafter_worker.consumer import connection_parameters\n"
                 "try:\n"
                 "    pika.BlockingConnection(connection_parameters("
                 f"'amqps://u:p@localhost:15671/x', '{DEPLOYMENT_CA}'))\n"
                 "except Exception as error:\n"
                 "    print(type(error).__name__, error)\n"
                 "    sys.exit(0)\n"
                 "sys.exit(1)\n")
        output = hosts.run("worker", f"/opt/raycrafter/worker/bin/python -c {shlex.quote(probe)}")
        assert "CERTIFICATE_VERIFY_FAILED" in output or "certificate verify failed" in output, output
    finally:
        hosts.run("worker", "kill $(cat /tmp/s_server.pid) 2>/dev/null; true")


def reaches(hosts, client, server, port):
    probe = (f"import socket\ntry:\n    socket.create_connection(('{server}', {port}), 3)\n"
             "    print('open')\nexcept OSError as error:\n    print('closed', error)\n")
    return hosts.run(client, f"python3 -c {shlex.quote(probe)}").startswith("open")


def test_plaintext_is_refused_on_every_link(hosts):
    # PostgreSQL admits the web host by hostssl only.
    probe = ("import psycopg2\ntry:\n    psycopg2.connect(host='db', dbname='raycrafter', "
             "user='raycrafter', password='x', sslmode='disable', connect_timeout=5)\n"
             "except psycopg2.OperationalError as error:\n    print(error)\n")
    refused = hosts.run("web", f"/opt/raycrafter/api/bin/python -c {shlex.quote(probe)}")
    assert "no encryption" in refused, refused
    # Plain AMQP is not served beyond the broker's loopback.
    assert not reaches(hosts, "web", "broker", 5672)
    assert not reaches(hosts, "worker", "broker", 5672)
    # Plain HTTP on the API's TLS port is answered 400, never with the API.
    answer = hosts.run("worker", "curl -s -o /dev/null -w '%{http_code}' http://web:443/api/v1/health; true")
    assert answer == "400", answer
    # A GELF record sent in plain text never reaches the log server's records; the same
    # record over TLS does, and only with its job's log credential.
    records = "/var/log/raycrafter/gelf/records.jsonl"
    key = tomllib.loads(hosts.run("logging", "cat /etc/raycrafter/logserver/logserver.toml"))[
        "credential_key"].encode()
    credential = log_credentials.issue(key, 4242, 1, int(time.time()) + 600)
    plain, secure, unsigned = (f"plain-{uuid.uuid4().hex}", f"tls-{uuid.uuid4().hex}",
                               f"unsigned-{uuid.uuid4().hex}")
    send = ("import json, socket, ssl, sys\n"
            "record = {'version': '1.1', 'host': 'cluster', 'short_message': sys.argv[1]}\n"
            f"if sys.argv[3]:\n    record['{log_credentials.RECORD_FIELD}'] = sys.argv[3]\n"
            "sock = socket.create_connection(('logging', 12201), 5)\n"
            "if sys.argv[2] == 'tls':\n"
            f"    sock = ssl.create_default_context(cafile='{DEPLOYMENT_CA}').wrap_socket(sock, server_hostname='logging')\n"
            "try:\n    sock.sendall(json.dumps(record).encode() + b'\\0'); sock.close()\n"
            "except OSError:\n    pass\n")
    for message, transport, signed in ((plain, "plain", credential), (unsigned, "tls", ""),
                                       (secure, "tls", credential)):
        hosts.run("cluster", f"python3 -c {shlex.quote(send)} {message} {transport} "
                             f"{shlex.quote(signed)}")
    deadline = time.monotonic() + 30
    while secure not in hosts.run("logging", f"cat {records}") and time.monotonic() < deadline:
        time.sleep(1)
    logged = hosts.run("logging", f"cat {records}")
    assert secure in logged and plain not in logged and unsigned not in logged
    assert json.loads(next(line for line in logged.splitlines() if secure in line))[
        "_job_id"] == "4242"


def test_each_host_admits_only_the_hosts_its_roles_serve(hosts):
    assert reaches(hosts, "web", "db", 5432)
    assert not reaches(hosts, "worker", "db", 5432)
    assert not reaches(hosts, "cluster", "db", 5432)
    assert reaches(hosts, "worker", "broker", 5671) and reaches(hosts, "web", "broker", 5671)
    assert not reaches(hosts, "cluster", "broker", 5671)
    assert reaches(hosts, "cluster", "logging", 12201)
    assert reaches(hosts, "worker", "logging", 12201) and reaches(hosts, "web", "logging", 12201)
    assert reaches(hosts, "db", "logging", 12201)  # its programs' log lines
    assert not reaches(hosts, "db", "logging", 12202)  # the search is the web host's
    assert reaches(hosts, "cluster", "web", 443) and reaches(hosts, "worker", "web", 443)
    ruleset = hosts.run("db", "nft list table inet raycrafter")
    assert "policy drop" in ruleset


def peers_view(hosts):
    """What each host resolves for the roles it reaches, and whom the database and the
    broker admit: the API's and the worker's configurations, every host's /etc/hosts,
    pg_hba.conf and the firewalls of db and broker."""
    view = {"api": hosts.run("web", "grep -E '^(database_url|amqp_url)' /etc/raycrafter/api/api.toml"),
            "worker": hosts.run("worker", "grep -E '(api_url|amqp_url|login_host|log_host) =' /etc/raycrafter/worker/worker.toml"),
            "hba": hosts.run("db", "grep -v '^#' /etc/postgresql/15/main/pg_hba.conf")}
    for machine in ROLES:
        view[f"{machine} hosts"] = hosts.run(machine, "sort /etc/hosts")
    for machine in ("db", "broker"):
        view[f"{machine} firewall"] = hosts.run(machine, "nft list table inet raycrafter")
    return view


def test_a_minion_that_claims_roles_by_its_grain_gets_nothing_of_them(hosts, secrets):
    """Root on the logging host sets the grain that once decided roles, claiming web,
    worker and db, and every host is applied again: the master's assignment still
    decides, so it holds no new secret, the database still refuses it, and every peer
    resolves the same hosts for each role."""
    before = peers_view(hosts)
    held_before = set(hosts.salt_json("logging", "pillar.item", "raycrafter_secrets")["logging"]["raycrafter_secrets"])
    hosts.run("logging", "salt-call --local grains.setval roles '[web, worker, db]'")
    try:
        hosts.run("logging", "salt-call saltutil.refresh_grains && salt-call mine.update")
        steps = highstate_steps(hosts.orchestrate())
        assert steps and all(step["result"] for step in steps), [step["comment"] for step in steps]
        pillar = hosts.salt_json("logging", "pillar.item", "raycrafter_secrets", "raycrafter_roles",
                                 "unmask=True")["logging"]
        assert set(pillar["raycrafter_secrets"]) == held_before
        assert list(pillar["raycrafter_roles"]) == ["logging"]
        for secret in ("postgres_password", "api_admin_token", "cluster_ssh_private_key",
                       "rabbitmq_worker_password"):
            value = secrets[secret].strip().splitlines()[-3 if "PRIVATE KEY" in secrets[secret] else 0]
            found = hosts.run("logging", f"grep -rlF -f - {SEARCHED} 2>/dev/null || true", input=value + "\n")
            assert not found.strip(), f"the logging host holds {secret} in {found.split()}"
        assert not reaches(hosts, "logging", "db", 5432)
        assert not reaches(hosts, "logging", "broker", 5671)
        assert peers_view(hosts) == before
    finally:
        hosts.run("logging", "salt-call --local grains.delkey roles force=True")


def batch_job_records(hosts, job_id):
    """The cluster host's completion records of the job's batch jobs."""
    log_text = hosts.run("cluster", f"sh -c 'cat {JOB_COMPLETION_LOG} 2>/dev/null || true'")
    return completion_records_in(log_text, job_id)


def wait_for_batch_job_records(hosts, job_id, at_least):
    """The API calls a job done once its frames are in, which can be before its batch job
    has ended on the cluster (the agents still leaving) and been logged."""
    wait_for(lambda: len(batch_job_records(hosts, job_id)) >= at_least, timeout=120,
             interval=2, message="Slurm's completion records of the job's batch jobs")
    return batch_job_records(hosts, job_id)


def test_a_job_renders_across_the_hosts(hosts, tmp_path):
    demo = appliance_hosts("demo", env={**os.environ, "RAYCRAFTER_DEMO_DIR": str(tmp_path)})
    assert demo.returncode == 0, demo.stderr[-4000:]
    (job_dir,) = tmp_path.glob("hosts-job-*")
    frames = sorted(job_dir.glob("frames/*.png"))
    assert len(frames) == 24
    assert all(frame.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for frame in frames)
    # The batch job ran on the cluster host, submitted from the worker host.
    job_id = int(job_dir.name.removeprefix("hosts-job-"))
    assert len(wait_for_batch_job_records(hosts, job_id, at_least=1)) == 1
    assert "raycrafter-worker" in hosts.run("worker", "supervisorctl status")
    # The operator, on the web host, finds the job's records on the log host: its node
    # agents', and the API's, the relay's and the worker's, each from its own host over TLS
    # (a service queues its records, so the last may come a moment after the job ended).
    def every_component(lines):
        return all(any(f" job {job_id} {service}: " in line for line in lines)
                   for service in ("raycrafter-api", "raycrafter-relay", "raycrafter-worker"))
    wait_for(lambda: every_component(
        hosts.run("web", f"raycrafter-admin logs --job {job_id}").splitlines()),
        timeout=60, interval=2, message="the records of every component")
    records = hosts.run("web", f"raycrafter-admin logs --job {job_id}").splitlines()
    assert records and all(f" job {job_id} " in line for line in records)
    assert any(": rendering " in line for line in records), records[:20]
    assert any(f" job {job_id} raycrafter-worker: job {job_id}: staging its scene in" in line
               for line in records), records[:20]
    assert hosts.run("web", f"raycrafter-admin logs --job {job_id} --since 1h").splitlines() \
        == records
    assert hosts.run("web", f"raycrafter-admin logs --job {job_id} --since 2099-01-01") == ""


def job_summary(hosts, job_id):
    page = json.loads(hosts.run("web", "env HOME=/root raycrafter jobs --json --limit 500"))
    return next(job for job in page["jobs"] if job["id"] == job_id)


def frames_done(hosts, job_id):
    job = job_summary(hosts, job_id)
    return job["progress"]["done"], job["state"]


def wait_for_progress(hosts, job_id, before, what, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, state = frames_done(hosts, job_id)
        except AssertionError:
            done, state = before, None      # the API or its database is down right now
        if done >= before + 2 or state in ("done", "failed", "cancelled"):
            return done, state
        time.sleep(2)
    raise AssertionError(f"no progress within {timeout} s after {what}")


# By process name (-x): `pkill -f beam.smp` would match the shell running this line too.
KILL_BROKER = ("pkill -KILL -x beam.smp; while pgrep -x beam.smp >/dev/null; do sleep 0.5; done; "
               "until service rabbitmq-server start >/dev/null 2>&1 && rabbitmqctl -q status >/dev/null 2>&1; do sleep 2; done")
KILL_DATABASE = ("kill -KILL $(head -1 /var/lib/postgresql/15/main/postmaster.pid); "
                 "until service postgresql start >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1; do sleep 2; done")


def test_each_hosts_program_lines_reach_the_log_host_under_its_own_name(hosts):
    """The web host's nginx and the db host's PostgreSQL write a line; the operator finds
    each on the log host from the web host, named by the host whose credential sent it."""
    marker = uuid.uuid4().hex
    request = ("import ssl, urllib.error, urllib.request\n"
               "try:\n    urllib.request.urlopen('https://localhost/api/v1/no-such-page-"
               f"{marker}', context=ssl._create_unverified_context(), timeout=30)\n"
               "except urllib.error.HTTPError as error:\n    print(error.code)\n")
    assert hosts.run("web", f"python3 -c {shlex.quote(request)}").strip() == "404"
    statement = f"DO $$ BEGIN RAISE LOG 'logship {marker}'; END $$"
    hosts.run("db", f"runuser -u postgres -- psql -q -c {shlex.quote(statement)}")

    def found(program):
        return hosts.run("web", f"raycrafter-admin logs --since 10m --program {program} "
                                f"--grep {marker}").splitlines()
    for program, host, text in (("nginx", "web", f"GET /api/v1/no-such-page-{marker}"),
                                ("postgresql", "db", f"logship {marker}")):
        wait_for(lambda: any(text in line for line in found(program)), timeout=60,
                 interval=2, message=f"{host}'s {program} line on the log host")
        assert all(f" {program} {host}: " in line for line in found(program))


def test_killing_rabbitmq_and_postgresql_on_their_hosts_loses_nothing(hosts):
    frames = 40
    hosts.copy_folder("web", REPOSITORY / "examples" / "orbit", "/tmp/faults")
    submitted = hosts.run("web", "env HOME=/root raycrafter submit /tmp/faults/orbit --frames 1-40 "
                                 "--width 640 --height 480 --name 'hosts: faults' --json")
    job_id = json.loads(submitted)["id"]
    deadline = time.monotonic() + 300
    while frames_done(hosts, job_id)[1] != "running":
        assert time.monotonic() < deadline, "the job never ran"
        time.sleep(2)
    before, _ = frames_done(hosts, job_id)
    for machine, kill in (("broker", KILL_BROKER), ("db", KILL_DATABASE)):
        hosts.run(machine, kill)
        before, state = wait_for_progress(hosts, job_id, before, f"killing on {machine}")
    hosts.run("web", f"env HOME=/root raycrafter wait {job_id}")
    done, state = frames_done(hosts, job_id)
    assert (done, state) == (frames, "done")
    logs = json.loads(hosts.run("web", f"env HOME=/root raycrafter logs {job_id} --json"))
    events = logs["events"]
    done_counts = collections.Counter(e["frame"] for e in events if e["frame"] is not None and e["to"] == "done")
    assert done_counts == {number: 1 for number in range(1, frames + 1)}
    hosts.run("web", f"sh -c 'rm -rf /tmp/fault-frames && env HOME=/root raycrafter download {job_id} /tmp/fault-frames'")
    assert hosts.run("web", "ls /tmp/fault-frames | grep -c '[.]png$'").strip() == str(frames)
    # One batch job per recorded submission on the cluster host.
    submissions = sum(1 for e in events if e["frame"] is None and e["to"] == "submitted")
    records = wait_for_batch_job_records(hosts, job_id, at_least=submissions)
    assert submissions >= 1 and len(records) == submissions, (submissions, records)


def catalogue_targets():
    """(job, instance) of every service of the catalogue with `scrape`, on every machine
    that holds its role (on every machine, for every host's own)."""
    expected = set()
    for role, holder in [(None, CATALOGUE["every_host"]), *CATALOGUE["roles"].items()]:
        for service in holder.get("services", {}).values():
            if not service.get("scrape"):
                continue
            for machine, roles in machine_roles().items():
                if role is None or role in roles:
                    expected.add((service["scrape"]["job"], f"{machine}:{service['port']}"))
    return expected


def on_monitoring_host(hosts, service, path):
    """GET PATH of the monitoring host's Prometheus or Alertmanager, over TLS by its name,
    from that host."""
    port = CATALOGUE["roles"]["monitoring"]["services"][service]["port"]
    return json.loads(hosts.run("monitoring", "curl -sSf --cacert /etc/raycrafter/tls/ca.crt "
                                              f"'https://monitoring:{port}{path}'"))


def prometheus_targets(hosts):
    return on_monitoring_host(hosts, "prometheus", "/api/v1/targets")["data"]["activeTargets"]


def test_prometheus_finds_every_target_of_the_catalogue_up_over_tls(hosts):
    expected = catalogue_targets()

    def all_up():
        targets = prometheus_targets(hosts)
        return len(targets) == len(expected) and all(t["health"] == "up" for t in targets) and targets
    try:
        targets = wait_for(all_up, timeout=120, interval=5, message="every target up")
    except TimeoutError:
        targets = prometheus_targets(hosts)
    assert {(t["labels"]["job"], t["labels"]["instance"]) for t in targets} == expected
    assert {t["scrapeUrl"]: t["lastError"] for t in targets if t["health"] != "up"} == {}
    assert all(t["scrapeUrl"].startswith("https://") for t in targets)
    # Verified against the deployment's CA, never skipped.
    config = on_monitoring_host(hosts, "prometheus", "/api/v1/status/config")["data"]["yaml"]
    assert "insecure_skip_verify: true" not in config
    assert config.count("ca_file: /etc/raycrafter/tls/ca.crt") >= len({job for job, _ in expected})


def apply_monitoring(hosts, pillar=None):
    """salt.monitoring on the monitoring host from the master, with PILLAR over its pillar."""
    extra = [shlex.quote(f"pillar={json.dumps(pillar)}")] if pillar else []
    states = hosts.salt_json("monitoring", "state.sls", "salt.monitoring", *extra)["monitoring"]
    assert isinstance(states, dict), states
    assert {key: value["comment"] for key, value in states.items() if value["result"] is not True} == {}


def test_the_worker_down_alert_fires_and_resolves_across_the_hosts(hosts):
    """The worker host's worker stopped: the monitoring host's Prometheus fires the shipped
    rule, its Alertmanager tells a receiver on this machine's bridge address (the
    monitoring host's firewall lets it out); started again, "resolved" follows."""
    worker_instance = f"worker:{CATALOGUE['roles']['worker']['services']['worker_metrics']['port']}"
    with serving(AlertReceiver(BRIDGE_ADDRESS)) as receiver:
        try:
            apply_monitoring(hosts, receiver_pillar(receiver.url))
            wait_for(lambda: {t["health"] for t in prometheus_targets(hosts)
                              if t["labels"]["instance"] == worker_instance} == {"up"},
                     timeout=60, interval=2, message="the worker up before it is stopped")
            hosts.run("worker", "supervisorctl stop 'raycrafter-worker:*'")
            try:
                labels = receiver.wait_for_status(WORKER_DOWN, "firing", FIRING_WITHIN)
                assert labels["instance"] == worker_instance and labels["role"] == "worker"
                active = on_monitoring_host(hosts, "alertmanager", "/api/v2/alerts?active=true")
                assert WORKER_DOWN in {alert["labels"]["alertname"] for alert in active}
            finally:
                # Started already if the test got that far: supervisorctl then fails.
                hosts.run("worker", "supervisorctl start 'raycrafter-worker:*' || true")
            receiver.wait_for_status(WORKER_DOWN, "resolved", RESOLVED_WITHIN)
        finally:
            apply_monitoring(hosts)
    # supervisorctl status fails unless every process of the group runs.
    hosts.run("worker", "supervisorctl status 'raycrafter-worker:*'")
    assert receiver.url not in hosts.run("monitoring", "cat /etc/prometheus/alertmanager.yml")


def test_down_leaves_nothing_behind(hosts):
    if hosts.reused:
        pytest.skip("RAYCRAFTER_HOSTS_REUSE=1 keeps the hosts up")
    down = appliance_hosts("down")
    assert down.returncode == 0, down.stderr
    assert subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode != 0
    containers = subprocess.run(["lxc-ls", "-1"], capture_output=True, text=True).stdout
    assert not [name for name in containers.split() if name.startswith(REPOSITORY.name + "_")]
    with open("/proc/mounts") as mounts:
        assert "/var/lib/lxc/" + REPOSITORY.name not in mounts.read()
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "lxc-start" not in processes and "[lxc monitor]" not in processes
    assert not (REPOSITORY / ".vagrant").exists()
