"""GELF over TLS to the log server's TLS listener, with certificates made for each test.

The agent does TLS itself (ssl.create_default_context with --log-ca-file, the host name
checked against --log-server-name), not with graypy's TLS handler; these tests hold it to
that: every record reaches a server it can verify, none reaches one it cannot, and frames
are rendered either way.
"""

import json
import re
import socket
import ssl

import pytest

from raycrafter_contract import log_credentials

from support.certificates import ThrowawayCa

from .conftest import BATCH_JOB_ID, claims_in, png_size

LOG_SERVER = "logs.raycrafter.test"


def tls_options(ca):
    return ("--log-tls", "--log-ca-file", str(ca.cert_file), "--log-server-name", LOG_SERVER)


def shipping_summary(agent):
    """(queued, sent, dropped, unsent) from the line the agent prints at exit."""
    match = re.search(r"log shipping: (\d+) records queued, (\d+) sent, (\d+) dropped, "
                      r"(\d+) unsent", agent.output())
    assert match, agent.output()
    return tuple(int(number) for number in match.groups())


def send_verified(receiver, ca_file, server_name, message):
    """Ship one GELF record the way a well-configured client does, and close only after
    the server has read it (it closes its side once it saw our end of stream)."""
    context = ssl.create_default_context(cafile=str(ca_file))
    record = {"version": "1.1", "host": "test", "short_message": message,
              log_credentials.RECORD_FIELD: receiver.credential(1)}
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            tls.sendall(json.dumps(record).encode() + b"\0")
            tls.shutdown(socket.SHUT_WR)
            try:
                while tls.recv(4096):
                    pass
            except (ssl.SSLError, OSError):
                pass  # the server ends the stream without close_notify


def test_every_record_reaches_a_verified_tls_log_server_with_its_fields(setup, tmp_path,
                                                                       node_name):
    ca = ThrowawayCa(tmp_path / "ca")
    api = setup.start_api()
    receiver = setup.start_receiver(ca.issue(LOG_SERVER))
    job_id, job_dir = setup.job(frames="1-3")

    agent = setup.agent(job_dir, job_id, "node-1", *tls_options(ca), log=True)

    assert agent.wait() == 0, agent.output()
    assert all(frame["state"] == "done" for frame in api.frames(job_id).values())
    queued, sent, dropped, unsent = shipping_summary(agent)
    assert (sent, dropped, unsent) == (queued, 0, 0)
    # The receiver speaks TLS only: whatever arrived came through a verified TLS session.
    records = receiver.wait_for(lambda rs: len(rs) >= queued, timeout=15)
    assert sorted(int(r["_seq"]) for r in records) == list(range(1, queued + 1))
    leases = {frame: lease for frame, attempt, lease in claims_in(agent.output())
              if attempt == 1}
    assert sorted(leases) == [1, 2, 3]
    for record in records:
        assert record["_job_id"] == str(job_id)
        assert record["_submit_attempt"] == "1"  # what its credential vouches for
        assert record["_node"] == record["host"] == node_name
        assert record["_batch_job_id"] == BATCH_JOB_ID
        if "_frame" in record:
            assert record["_attempt"] == "1"
            assert record["_lease_id"] == leases[int(record["_frame"])]
    renderer_records = [r for r in records if r["facility"] == "raycrafter_nodeagent.renderer"]
    assert {int(r["_frame"]) for r in renderer_records} == {1, 2, 3}
    assert "agent exits with status 0" in records[-1]["short_message"]


@pytest.mark.parametrize("mismatch", ["host name", "issuer"])
def test_a_log_server_the_agent_cannot_verify_gets_nothing_and_frames_are_rendered(
        setup, tmp_path, mismatch):
    trusted_ca = ThrowawayCa(tmp_path / "trusted-ca")
    if mismatch == "host name":
        server_ca, server_name = trusted_ca, "elsewhere.raycrafter.test"
        refusal = "alert bad certificate"
    else:
        server_ca, server_name = ThrowawayCa(tmp_path / "other-ca", "Another CA"), LOG_SERVER
        refusal = "alert unknown ca"
    api = setup.start_api()
    receiver = setup.start_receiver(server_ca.issue(server_name))
    job_id, job_dir = setup.job(frames="1-2")

    agent = setup.agent(job_dir, job_id, "node-1", *tls_options(trusted_ca),
                        "--log-flush-seconds", "1", log=True)

    assert agent.wait() == 0, agent.output()
    frames = api.frames(job_id)
    assert [frames[n]["state"] for n in (1, 2)] == ["done", "done"]
    assert png_size(job_dir / "frames" / "frame_00002.png") == (64, 48)
    queued, sent, dropped, unsent = shipping_summary(agent)
    assert queued > 0 and (sent, dropped, unsent) == (0, 0, queued)
    # The agent did reach the server, and turned its certificate down in the handshake.
    assert refusal in receiver.output()
    # ... and said so once, where the batch job's errors go.
    assert agent.output().count("warning: the log server 127.0.0.1:") == 1, agent.output()
    # The receiver works for a client that can verify it: its record is the only one there.
    send_verified(receiver, server_ca.cert_file, server_name, "verified client")
    records = receiver.wait_for(lambda rs: rs, timeout=15)
    assert [r["short_message"] for r in records] == ["verified client"]
