"""The log server, run as the appliance runs it (raycrafter-logserver and its TOML file),
sent GELF over TCP and TLS: a record is taken only with its batch job's log credential
and is about that job, whatever it says; a record over the bound, a flood or a crowd of
connections costs its sender only."""
import os
import re
import socket
import ssl
import threading
import time

from raycrafter_contract import log_credentials
from raycrafter_logserver.__main__ import main

from support.certificates import ThrowawayCa
from support.polling import wait_for

from .conftest import frame, send

CREDENTIAL = log_credentials.RECORD_FIELD


def record(message, credential=None, **fields):
    body = {"version": "1.1", "host": "nid00042", "short_message": message, **fields}
    if credential is not None:
        body[CREDENTIAL] = credential
    return body


def reported(server, pattern, timeout=10):
    """The server's report line matching ``pattern`` (it reports every half second)."""
    found = []

    def seen():
        found[:] = re.findall(pattern, server.output())
        return found
    wait_for(seen, timeout=timeout, interval=0.1, message=f"{pattern!r} in the server's output")
    return found[0]


def test_a_record_is_written_for_its_credentials_job_whatever_it_claims(log_server):
    server = log_server()
    credential = server.credential(12, attempt=2)
    send(server, frame(record("mine", credential, _job_id="12", _frame=3)),
         frame(record("forged", credential, _job_id="99")))
    written = server.wait_for(lambda rs: len(rs) == 2)
    assert [(r["short_message"], r["_job_id"], r["_submit_attempt"]) for r in written] == [
        ("mine", "12", "2"), ("forged", "12", "2")]
    assert all(r["_source"] == "127.0.0.1" and CREDENTIAL not in r for r in written)
    assert written[0]["_frame"] == "3"
    assert reported(server, r"2 record\(s\) written for 1 sender\(s\), 1 of them naming "
                            r"another job than their credential's")
    assert credential not in open(server.records_file).read()


def test_a_record_without_a_valid_credential_is_refused_and_the_connection_goes_on(log_server):
    server = log_server()
    now = int(time.time())
    good = server.credential(7)
    claims, signature = good.rsplit(".", 1)
    refused = {
        "none": None,
        "garbage": "let me in",
        "another key": log_credentials.issue(b"k" * 43, 7, 1, now + 3600),
        "another job": claims.replace(".7.", ".8.", 1) + "." + signature,
        "expired": log_credentials.issue(server.key.encode(), 7, 1, now - 1),
        "not a string": 12345,
    }
    send(server, *[frame(record(name, credential)) for name, credential in refused.items()],
         frame(record("good", good)))
    assert [r["short_message"] for r in server.wait_for(lambda rs: rs)] == ["good"]
    assert reported(server, r"records without a valid log credential: (\d+)") == "6"
    output = server.output()
    assert "(e.g. 127.0.0.1: no log credential)" in output


def test_a_record_that_is_no_json_object_is_refused(log_server):
    server = log_server()
    send(server, b"[1, 2]\0", b"{not json\0", b'{"a": NaN}\0', b"\xff\xfe\0",
         frame(record("good", server.credential(7))))
    assert [r["short_message"] for r in server.wait_for(lambda rs: rs)] == ["good"]
    assert reported(server, r"records that are no JSON object: (\d+)") == "4"


def peak_memory_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmHWM:\s+(\d+) kB", status.read()).group(1))


def test_a_record_over_the_bound_is_skipped_unread(log_server):
    server = log_server(max_record_bytes=65536)
    before = peak_memory_kib(server.pid)
    credential = server.credential(7)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(frame(record("first", credential)))
        block = b"x" * (1 << 20)
        for _ in range(200):  # 200 MiB without an end, then the end and another record
            sock.sendall(block)
        sock.sendall(b"\0" + frame(record("x" * 70000, credential))
                     + frame(record("after", credential)))
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):
            pass
    assert [r["short_message"] for r in server.wait_for(lambda rs: len(rs) == 2)] == [
        "first", "after"]
    assert reported(server, r"records over max_record_bytes: (\d+)") == "2"
    # What it held for the 200 MiB: one record's bound, not the record.
    assert peak_memory_kib(server.pid) - before < 16 * 1024


def test_a_flood_costs_its_sender_only(log_server):
    server = log_server(records_per_second=200, burst_records=200)
    flooder, other = server.credential(1), server.credential(2)
    flood = b"".join(frame(record("flood %d" % n, flooder, _seq=n)) for n in range(3000))
    started = time.monotonic()
    thread = threading.Thread(target=send, args=(server, flood), daemon=True)
    thread.start()
    wait_for(lambda: len(server.records()) >= 200, timeout=10, message="the flood's burst")
    send(server, *[frame(record("other %d" % n, other)) for n in range(10)])
    others = server.wait_for(lambda rs: sum(r["_job_id"] == "2" for r in rs) == 10, timeout=5)
    elapsed = time.monotonic() - started
    flooded = sum(r["_job_id"] == "1" for r in others)
    # The other job's records came through at once; the flood went at its rate.
    assert flooded <= 200 + 200 * elapsed + 50, (flooded, elapsed)
    assert flooded < 3000
    assert reported(server, r"the senders of job 1 attempt 1 were over their budget")
    assert "job 2 attempt 1 were over" not in server.output()
    thread.join(30)
    assert [r["_seq"] for r in server.records() if r["_job_id"] == "1"] == [
        str(n) for n in range(3000)]


def test_connections_over_the_limits_are_closed_at_once(log_server):
    server = log_server(max_connections_per_address=2)
    held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
    try:
        wait_for(lambda: True, timeout=1)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as third:
            assert third.recv(1) == b""
        assert reported(server, r"connections over the limits: (\d+)") == "1"
    finally:
        for sock in held:
            sock.close()
    send(server, frame(record("later", server.credential(3))))
    assert [r["short_message"] for r in server.wait_for(lambda rs: rs)] == ["later"]


def test_over_tls_a_verified_client_is_served_and_plain_text_is_not(log_server, tmp_path):
    ca = ThrowawayCa(tmp_path / "ca")
    certificate = ca.issue("logs.raycrafter.test")
    server = log_server(cert_file=certificate.cert_file, key_file=certificate.key_file)
    send(server, frame(record("in plain text", server.credential(5))))
    context = ssl.create_default_context(cafile=str(ca.cert_file))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="logs.raycrafter.test") as tls:
            tls.sendall(frame(record("over TLS", server.credential(5))))
            tls.shutdown(socket.SHUT_WR)
            try:
                while tls.recv(4096):
                    pass
            except (ssl.SSLError, OSError):
                pass
    assert [r["short_message"] for r in server.wait_for(lambda rs: rs)] == ["over TLS"]
    assert int(reported(server, r"TLS handshakes failed: (\d+)")) >= 1


def test_a_bad_configuration_is_named_and_nothing_listens(tmp_path, capsys):
    config = tmp_path / "logserver.toml"
    config.write_text('records_file = "%s/records.jsonl"\ncredential_key = "short"\n'
                      '[[listeners]]\naddress = "127.0.0.1"\nport = 12201\n' % tmp_path)
    assert main(["--config", str(config)]) == 2
    assert "'credential_key' must be at least 32 characters" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "records.jsonl")
