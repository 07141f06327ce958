"""Word when a job ends: written with the final state, delivered by the notifier to a real
webhook receiver (signed as Standard Webhooks says) and through a real exim4 to a real
SMTP receiver, retried across restarts, and never sent where a webhook may not go."""
import base64
import datetime
import email
import email.policy
import hashlib
import hmac
import http.server
import ipaddress
import json
import socket
import subprocess
import sys

import pytest

from raycrafter_api import timeutil
from raycrafter_api.database import db
from raycrafter_api.database.models import Notification
from raycrafter_api.notify import deliveries, notifier, signing, webhook_targets, webhooks
from support.api_server import write_config
from support.api_testing import assert_error
from support.loopback_http import serving
from support.mail_relay import SmtpReceiver, ThrowawayExim
from support.polling import wait_for

LOOPBACK_ALLOWED = ["127.0.0.0/8"]
ALLOWED_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook receiver on loopback that keeps what it was sent and answers ``status``."""

    def __init__(self, status=204):
        self.requests = []
        self.status = status
        super().__init__(("127.0.0.1", 0), _Keeping)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/raycrafter?from=test"


class _Keeping(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers),
                                     "body": body})
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def verified(request, secret):
    """What a receiver does with Standard Webhooks: recompute the signature of
    id.timestamp.body with the secret's bytes and compare; returns the payload."""
    headers = {key.lower(): value for key, value in request["headers"].items()}
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() \
        + request["body"]
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    return json.loads(request["body"])


@pytest.fixture
def config_values(tmp_path, database_url):
    return {"database_url": database_url, "data_dir": str(tmp_path / "data"),
            "clusters": ["default", "archer"], "notify_allowed_networks": LOOPBACK_ALLOWED}


def run_notifier(config):
    with db.connection():
        return notifier.Notifier(config).step()


def notifications(job_id):
    with db.connection():
        return list(Notification.select().where(Notification.job == job_id)
                    .order_by(Notification.channel))


# The published test vector of the Standard Webhooks specification (its libraries' tests,
# github.com/standard-webhooks/standard-webhooks).
def test_signature_matches_the_standard_webhooks_test_vector():
    assert signing.signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                             "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                             b'{"test": 2432232314}') \
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_cancelled_job_sends_a_signed_webhook_its_receiver_verifies(api, world):
    with serving(Receiver()) as receiver:
        job = world.create_job(world.alice, notify_url=receiver.url)
        assert notifications(job["id"]) == []
        assert world.alice.post(f"/jobs/{job['id']}/cancel").status_code == 200
        written = notifications(job["id"])
        assert [(n.channel, n.target, n.delivered_at) for n in written] == [
            ("webhook", receiver.url, None)]
        assert run_notifier(api.config) == 1
        assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request["path"] == "/hooks/raycrafter?from=test"
    secret = world.alice.get("/webhook-secret").json()["secret"]
    word = verified(request, secret)
    assert word["type"] == "job.cancelled"
    assert (word["data"]["id"], word["data"]["state"]) == (job["id"], "cancelled")
    assert request["headers"]["webhook-id"] == written[0].id
    delivered = notifications(job["id"])[0]
    assert delivered.delivered_at is not None and delivered.next_attempt_at is None
    assert run_notifier(api.config) == 0  # delivered once, not again


def test_a_job_without_targets_writes_no_word(api, world):
    assert world.alice.post(f"/jobs/{world.job_x['id']}/cancel").status_code == 200
    assert notifications(world.job_x["id"]) == []


def test_a_rotated_secret_signs_from_then_on_and_is_each_users_own(api, world):
    first = world.alice.get("/webhook-secret").json()["secret"]
    assert first == world.alice.get("/webhook-secret").json()["secret"]
    assert first != world.bob.get("/webhook-secret").json()["secret"]
    rotated = world.alice.post("/webhook-secret/rotate").json()["secret"]
    assert rotated.startswith("whsec_") and rotated != first
    assert len(base64.b64decode(rotated.removeprefix("whsec_"))) == 32
    with serving(Receiver()) as receiver:
        job = world.create_job(world.alice, notify_url=receiver.url)
        world.alice.post(f"/jobs/{job['id']}/cancel")
        run_notifier(api.config)
    verified(receiver.requests[0], rotated)
    assert_error(world.anonymous.get("/webhook-secret"), 401)
    assert_error(world.worker.get("/webhook-secret"), 403)


def test_a_failed_delivery_is_retried_by_a_new_notifier_and_given_up_after_the_day(
        api, world):
    with serving(Receiver(status=503)) as receiver:
        job = world.create_job(world.alice, notify_url=receiver.url)
        world.alice.post(f"/jobs/{job['id']}/cancel")
        assert run_notifier(api.config) == 1
        (waiting,) = notifications(job["id"])
        assert waiting.attempts == 1 and waiting.delivered_at is None
        assert "answered 503" in waiting.last_error
        wait = (waiting.next_attempt_at - timeutil.now()).total_seconds()
        assert deliveries.FIRST_RETRY_SECONDS / 2 - 1 <= wait <= deliveries.FIRST_RETRY_SECONDS
        assert run_notifier(api.config) == 0  # not due yet
        # Time passes and the notifier restarts: a new one takes the row where it is.
        receiver.status = 200
        with db.connection():
            Notification.update(next_attempt_at=timeutil.now()).execute()
        assert run_notifier(api.config) == 1
    assert len(receiver.requests) == 2
    assert receiver.requests[0]["headers"]["webhook-id"] \
        == receiver.requests[1]["headers"]["webhook-id"]
    assert notifications(job["id"])[0].delivered_at is not None

    with serving(Receiver(status=500)) as receiver:
        late = world.create_job(world.alice, notify_url=receiver.url)
        world.alice.post(f"/jobs/{late['id']}/cancel")
        with db.connection():
            Notification.update(created_at=timeutil.now() - datetime.timedelta(days=1)).where(
                Notification.job == late["id"]).execute()
        run_notifier(api.config)
    (given_up,) = notifications(late["id"])
    assert given_up.next_attempt_at is None and given_up.delivered_at is None


def test_the_notifier_program_killed_and_started_again_delivers_what_it_left(
        api, world, config_values, tmp_path):
    config_path = write_config(tmp_path / "notifier.toml",
                               **{**config_values, "notify_poll_seconds": 0.2})
    log_path = tmp_path / "notifier.log"

    def started():
        with open(log_path, "a") as log:
            return subprocess.Popen([sys.executable, "-m", "raycrafter_api.notify.notifier",
                                     "--config", config_path],
                                    stdout=log, stderr=subprocess.STDOUT)
    with serving(Receiver(status=503)) as receiver:
        job = world.create_job(world.alice, notify_url=receiver.url)
        world.alice.post(f"/jobs/{job['id']}/cancel")
        process = started()
        try:
            wait_for(lambda: notifications(job["id"])[0].attempts == 1, timeout=30,
                     message="the first attempt")
        finally:
            process.kill()
            process.wait(timeout=30)
        receiver.status = 200
        with db.connection():  # the backoff has passed
            Notification.update(next_attempt_at=timeutil.now()).execute()
        process = started()
        try:
            wait_for(lambda: notifications(job["id"])[0].delivered_at, timeout=30,
                     message=f"the delivery ({log_path.read_text()})")
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert process.returncode == 0, log_path.read_text()
    assert [request["headers"]["webhook-id"] for request in receiver.requests] \
        == [notifications(job["id"])[0].id] * 2
    assert "given up" not in log_path.read_text()


def test_a_notifier_killed_mid_attempt_leaves_the_word_due_again(api, world):
    job = world.create_job(world.alice, notify_url="http://127.0.0.1:9/never")
    world.alice.post(f"/jobs/{job['id']}/cancel")
    (written,) = notifications(job["id"])
    with db.connection():
        assert deliveries.claim(written, hold_seconds=60)
        assert not deliveries.claim(written, hold_seconds=60)  # another notifier's turn
        assert deliveries.due(10) == []
        Notification.update(next_attempt_at=timeutil.now()).execute()
        assert [n.id for n in deliveries.due(10)] == [written.id]


@pytest.mark.parametrize("url, problem", [
    ("ftp://example.org/x", "http:// or https://"),
    ("http://user:pw@example.org/", "user name"),
    ("http://10.1.2.3/hook", "private"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://[::1]:8080/", "loopback"),
    ("https://224.0.0.1/", "multicast"),
    ("http://0.0.0.0/", "unspecified"),
])
def test_a_webhook_url_that_may_not_be_reached_is_refused_at_submission(world, url, problem):
    response = world.alice.post("/jobs", files={"scene": ("s.pov", b"sphere{0,1}")},
                                data={"name": "n", "notify_url": url})
    assert_error(response, 400, "invalid_field", "notify_url")
    assert problem in response.json()["message"]


@pytest.mark.parametrize("address", ["alice", "a@", "@b", "a b@c", "<a@b>", "a@b, c@d"])
def test_an_e_mail_address_that_is_not_one_is_refused(world, address):
    response = world.alice.post("/jobs", files={"scene": ("s.pov", b"sphere{0,1}")},
                                data={"name": "n", "notify_email": address})
    assert_error(response, 400, "invalid_field", "notify_email")


def test_the_job_end_goes_by_e_mail_through_exim4_to_the_smtp_receiver(api, world,
                                                                          mail_relay, tmp_path):
    receiver, exim = mail_relay
    config = api.config.__class__(**{**api.config.__dict__, "smtp_port": exim.port,
                                     "mail_from": "raycrafter@web.raycrafter.test"})
    job = world.create_job(world.alice, notify_email="alice@lab.example.org")
    world.alice.post(f"/jobs/{job['id']}/cancel")
    assert run_notifier(config) == 1
    wait_for(lambda: receiver.messages, timeout=30,
             message=f"the message through exim4 (its log: {exim.log()})")
    (message,) = receiver.messages
    assert message["to"] == ["alice@lab.example.org"]
    mail = email.message_from_bytes(message["data"], policy=email.policy.default)
    assert mail["Subject"] == f"Raycrafter job {job['id']} ({job['name']}) is cancelled"
    assert mail["From"] == "raycrafter@web.raycrafter.test"
    assert "by mta.raycrafter.test with esmtp (Exim 4" in mail["Received"]
    assert f"raycrafter status {job['id']}" in mail.get_content()
    assert notifications(job["id"])[0].delivered_at is not None


@pytest.fixture
def mail_relay():
    receiver = SmtpReceiver()
    exim = ThrowawayExim(receiver.port).start()
    yield receiver, exim
    exim.stop()
    receiver.stop()


# What a webhook may reach, delivered to for real: loopback, private and link-local
# addresses refused by default, the receiver on loopback never reached.
DEFAULT_NETWORKS = ()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_loopback_is_refused_by_default_and_nothing_reaches_the_receiver(host):
    with serving(Receiver()) as receiver:
        url = f"http://{host}:{receiver.server_address[1]}/hook"
        with pytest.raises(webhook_targets.Refused, match="loopback"):
            webhooks.post(url, b"{}", {}, DEFAULT_NETWORKS, timeout=5)
    assert receiver.requests == []


@pytest.mark.parametrize("address, kind", [("10.20.30.40", "private"),
                                           ("192.168.1.1", "private"),
                                           ("172.16.0.9", "private"),
                                           ("fd00::1", "private"),
                                           ("169.254.169.254", "link-local"),
                                           ("fe80::1", "link-local")])
def test_private_and_link_local_addresses_are_refused_before_any_connection(
        monkeypatch, address, kind):
    monkeypatch.setattr(socket.socket, "connect", _no_connection)
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(webhook_targets.Refused, match=kind):
        webhooks.post(f"http://{host}/hook", b"{}", {}, DEFAULT_NETWORKS, timeout=5)


def _no_connection(sock, address):
    raise AssertionError(f"a connection was made to {address}")


class ChangingResolver:
    """A name server that answers each lookup of a name with the next of ``answers``."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.asked = []

    def __call__(self, host, port, *args, **kwargs):
        self.asked.append(host)
        address = self.answers.pop(0)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]


def test_a_name_that_resolves_to_loopback_the_second_time_is_never_connected_there(
        monkeypatch):
    """DNS rebinding: a public address when checked, loopback when a second lookup would
    connect. The name is looked up once and the connection goes to the address checked."""
    resolver = ChangingResolver("93.184.215.14", "127.0.0.1")
    connected = []

    def refuse(sock, address):
        connected.append(address)
        raise ConnectionRefusedError("not on this test's network")
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    with pytest.raises(webhooks.NotDelivered):
        webhooks.post("http://rebinding.example/hook", b"{}", {}, DEFAULT_NETWORKS, timeout=5)
    assert resolver.asked == ["rebinding.example"]
    assert connected == [("93.184.215.14", 80)]


def test_a_name_that_resolves_to_loopback_first_is_refused(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", ChangingResolver("127.0.0.1", "93.184.215.14"))
    monkeypatch.setattr(socket.socket, "connect", _no_connection)
    with pytest.raises(webhook_targets.Refused, match="loopback"):
        webhooks.post("http://rebinding.example/hook", b"{}", {}, DEFAULT_NETWORKS, timeout=5)


def test_an_allowed_network_is_reached_at_the_address_checked_under_the_urls_name(
        monkeypatch):
    """The operator allows loopback: the receiver is reached at the address the name gave,
    and sees the name in Host."""
    with serving(Receiver()) as receiver:
        port = receiver.server_address[1]
        # The second answer is loopback too: a test sends nowhere else, even by mistake.
        resolver = ChangingResolver("127.0.0.1", "127.0.0.2")
        monkeypatch.setattr(socket, "getaddrinfo", resolver)
        webhooks.post(f"http://hooks.lab.example:{port}/in", b'{"a": 1}',
                      {"webhook-id": "msg_1"}, ALLOWED_LOOPBACK, timeout=5)
    assert resolver.asked == ["hooks.lab.example"]
    (request,) = receiver.requests
    assert request["headers"]["Host"] == f"hooks.lab.example:{port}"
    assert request["body"] == b'{"a": 1}'

