"""The front door: the appliance's nginx (its Salt template rendered and run here) in front
of the API as the appliance runs it. No body is read before its sender is known, on any
route; each route reads at most what its largest legitimate body needs; clients are held
to their limits. Measured from the client, through nginx and waitress: how many bytes the
server took before it answered, and the answer, always the API's JSON error shape."""
import json
import select
import socket
import ssl
import time

import pytest
import requests

from support.api_server import ApiServer, create_user, ensure_worker_token, write_config
from support.api_testing import PNG, job_fields, scene_upload, sha256, submit_as_worker
from support.nginx_front import NginxFront, settings
from support.polling import wait_for

MIB = 1024 * 1024
NGINX = settings()
JSON_LIMIT = NGINX["max_json_kib"] * 1024
# The client's send buffer, kept small: what it has written before the answer came is then
# what the server took, give or take the kernel's buffers on the way (a few hundred KiB).
SEND_BUFFER = 16 * 1024
UNREAD = 512 * 1024  # at most this much sent before the answer: the body stayed unread
LARGE = 64 * MIB


class FrontDoor:
    """nginx in front of two API processes, a user, the worker and a submitted job."""

    def __init__(self, tmp_path, **limits):
        tmp_path.mkdir()
        self.config = write_config(tmp_path / "api.toml",
                                   database_url=f"sqlite:///{tmp_path}/api.db",
                                   data_dir=str(tmp_path / "data"))
        self.api = ApiServer(self.config, threads=4, processes=2).start()
        self.nginx = NginxFront(limits=limits)
        self.url = self.nginx.serve(self.api.port)
        self.user = create_user(self.config, "alice")
        self.worker = ensure_worker_token(self.config)
        self.job = self.call("POST", "/jobs", self.user, files=scene_upload(),
                             data=job_fields()).json()["id"]
        self.agent = self.submit(self.job)

    def call(self, method, path, token=None, headers=None, **kwargs):
        headers = dict(headers or {}, **({"Authorization": f"Bearer {token}"} if token else {}))
        with requests.Session() as session:
            session.trust_env = False
            return session.request(method, self.url + path, headers=headers,
                                   verify=self.nginx.certificate, timeout=30, **kwargs)

    def submit(self, job_id):
        class Worker:
            def post(inner, path, **kwargs):
                return self.call("POST", path, self.worker, **kwargs)
        return submit_as_worker(Worker(), job_id, "42")

    def send(self, method, path, declared, token=None, chunked=False, held=None):
        """Send a request whose body is ``declared`` bytes, as fast as the server takes
        it, until it answers. (status, JSON answer, bytes of the body it took first)."""
        headers = [f"{method} {path} HTTP/1.1", "Host: localhost",
                   "Content-Type: application/json"]
        headers += ["Transfer-Encoding: chunked"] if chunked else [f"Content-Length: {declared}"]
        if token is not None:
            headers.append(f"Authorization: Bearer {token}")
        connection = self.connect()
        try:
            connection.sendall(("\r\n".join(headers + ["", ""])).encode())
            return _answer_while_sending(connection, declared, chunked)
        finally:
            connection.close()

    def connect(self):
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        raw.settimeout(30)
        raw.connect(("127.0.0.1", self.nginx.https_port))
        context = ssl.create_default_context(cafile=self.nginx.certificate)
        return context.wrap_socket(raw, server_hostname="localhost")

    def close(self):
        self.nginx.close()
        self.api.stop()


def _answer_while_sending(connection, declared, chunked):
    connection.setblocking(False)
    piece = 16 * 1024
    block = b"%x\r\n%s\r\n" % (piece, b"\0" * piece) if chunked else b"\0" * piece
    sent, answer = 0, b""
    deadline = time.monotonic() + 60
    while b"\r\n\r\n" not in answer or len(answer) < _length_of(answer):
        assert time.monotonic() < deadline, "no answer in time"
        writable = [connection] if sent < declared else []
        readable, writable, _ = select.select([connection], writable, [], 1)
        try:
            if readable:
                data = connection.recv(65536)
                if not data:
                    break
                answer += data
            elif writable:
                sent += connection.send(block[:declared - sent] if not chunked else block)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            continue
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    content_type = [line for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-type:")]
    assert content_type and b"application/json" in content_type[0], head
    return status, json.loads(body), sent


def _length_of(answer):
    head = answer.partition(b"\r\n\r\n")[0]
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(head) + 4 + int(line.split(b":")[1])
    return 0


@pytest.fixture
def front_doors(tmp_path):
    """Makes front doors (settings of raycrafter:nginx:limits as keywords)."""
    doors = []

    def make(**limits):
        doors.append(FrontDoor(tmp_path / f"door{len(doors)}", **limits))
        return doors[-1]
    yield make
    for door in doors:
        door.close()


@pytest.fixture
def front_door(front_doors):
    return front_doors()


def every_route(door):
    """(method, path, the most its body may be) of every operation the API documents, a
    POST to each path that documents none, and paths the API does not have."""
    document = door.call("GET", "/openapi.json").json()
    routes = []
    for template, item in document["paths"].items():
        path = template.replace("{job_id}", str(door.job)).replace("{number}", "1")
        methods = [method.upper() for method in item]
        if not {"POST", "PUT"} & set(methods):
            methods.append("POST")
        for method in methods:
            limit = (NGINX["max_upload_mib"] * MIB if path == "/api/v1/jobs"
                     else NGINX["max_image_mib"] * MIB if path.endswith("/image")
                     else JSON_LIMIT)
            routes.append((method, path, limit))
    return routes + [("POST", "/api/v1/nothing-here", JSON_LIMIT), ("PUT", "/", JSON_LIMIT)]


def test_no_body_is_read_before_its_sender_is_known_on_any_route(front_door):
    routes = every_route(front_door)
    assert len(routes) > 25
    for method, path, limit in routes:
        for token in (None, "not-a-token-anyone-issued"):
            status, answer, taken = front_door.send(method, path, min(limit, LARGE), token)
            assert (status, answer["error"]) == (401, "unauthorized"), (method, path, answer)
            assert set(answer) == {"error", "message", "details"}
            assert taken < UNREAD, (method, path, token, taken)
    # nginx's own count of what it read of each of those requests (logged as each ends):
    # their headers.
    def refusals():
        refused = [entry for entry in front_door.nginx.access_log() if entry[0] == 401]
        return refused if len(refused) >= 2 * len(routes) else None
    refused = wait_for(refusals, timeout=10, message="nginx to log every refusal")
    assert len(refused) == 2 * len(routes)
    assert max(length for _, _, _, length in refused) < 4096


def test_a_body_in_chunks_from_a_stranger_is_refused_unread(front_door):
    status, answer, taken = front_door.send("POST", "/api/v1/jobs", LARGE, chunked=True)
    assert (status, answer["error"]) == (401, "unauthorized")
    assert taken < UNREAD


def test_a_token_sends_a_body_only_where_it_may_call(front_door):
    other_job = front_door.call("POST", "/jobs", front_door.user, files=scene_upload(),
                                data=job_fields()).json()["id"]
    refusals = [("PUT", f"/api/v1/worker/jobs/{front_door.job}/frames/1/image",
                 front_door.user),
                ("POST", "/api/v1/jobs", front_door.worker),
                ("POST", "/api/v1/jobs", front_door.agent),
                ("POST", f"/api/v1/agent/jobs/{other_job}/claim", front_door.agent),
                ("POST", f"/api/v1/worker/jobs/{front_door.job}/transition", front_door.agent)]
    for method, path, token in refusals:
        declared = LARGE if path == "/api/v1/jobs" or path.endswith("/image") else JSON_LIMIT
        status, answer, taken = front_door.send(method, path, declared, token)
        assert (status, answer["error"]) == (403, "forbidden"), (method, path, answer)
        assert taken < UNREAD, (method, path, taken)


def test_each_route_reads_what_its_largest_body_needs_and_no_more(front_door):
    door = front_door
    # A body over its route's limit is refused by its declared size, unread.
    for method, path, token, declared in [
            ("POST", f"/api/v1/agent/jobs/{door.job}/claim", door.agent, JSON_LIMIT + 1),
            ("POST", f"/api/v1/jobs/{door.job}/cancel", door.user, JSON_LIMIT + 1),
            ("PUT", f"/api/v1/worker/jobs/{door.job}/frames/1/image", door.worker,
             NGINX["max_image_mib"] * MIB + 1),
            ("POST", "/api/v1/jobs", door.user, NGINX["max_upload_mib"] * MIB + 1)]:
        status, answer, taken = door.send(method, path, declared, token)
        assert (status, answer["error"]) == (413, "too_large"), (path, answer)
        assert answer["details"]["limit"] == declared - 1
        assert taken < UNREAD
    # The worker's frame image, larger than any JSON body, is read whole and judged by the
    # API (the frame is not rendered yet).
    status, answer, taken = door.send("PUT", f"/api/v1/worker/jobs/{door.job}/frames/1/image",
                                      8 * MIB, door.worker)
    assert (status, answer["error"], taken) == (415, "unsupported_media_type", 8 * MIB)


def test_known_senders_are_served_as_before(front_door):
    door = front_door
    claim = door.call("POST", f"/agent/jobs/{door.job}/claim", door.agent,
                      json={"holder": "nid001"})
    assert claim.status_code == 200 and claim.json()["status"] == "leased", claim.text
    lease = claim.json()["lease"]["id"]
    report = door.call("POST", f"/agent/jobs/{door.job}/reports", door.agent,
                       json={"lease_id": lease, "done": [
                           {"frame": 1, "render_seconds": 1.0, "checksum": sha256(PNG),
                            "size": len(PNG)}]})
    assert report.json()["frames"] == [{"frame": 1, "frame_state": "done", "refused": None}]
    image = door.call("PUT", f"/worker/jobs/{door.job}/frames/1/image", door.worker,
                      data=PNG, headers={"Content-Type": "image/png",
                                         "X-Checksum-Sha256": sha256(PNG)})
    assert image.status_code == 201, image.text
    # Requests without a body are not held: anonymous ones where the API allows them too.
    assert door.call("GET", "/health").status_code == 200
    assert door.call("GET", f"/jobs/{door.job}", door.user).json()["progress"]["done"] == 1
    unknown = door.call("GET", "/jobs", "not-a-token-anyone-issued")
    assert unknown.status_code == 401 and unknown.json()["error"] == "unauthorized"


def test_clients_past_their_limits_are_told_to_come_back(front_doors):
    door = front_doors(requests_per_token=1, burst_per_token=5,
                       requests_per_address_anonymous=1, burst_per_address_anonymous=5,
                       connections_per_address=3)
    busy = [door.call("GET", "/jobs", door.user) for _ in range(12)]
    told = [response for response in busy if response.status_code == 429]
    assert 5 <= len(busy) - len(told) <= 7 and told
    assert told[0].headers["Retry-After"] == "1"
    assert told[0].json()["error"] == "too_many_requests"
    # Counted per token: the worker (or a cluster's agents behind the same address) is
    # not held back by the user's requests, and no token by the address's.
    assert door.call("GET", "/worker/jobs", door.worker).status_code == 200
    anonymous = [door.call("GET", "/health").status_code for _ in range(12)]
    assert anonymous.count(200) <= 7 and 429 in anonymous
    assert door.call("GET", "/health", door.agent).status_code == 200
    # Connections at once from one address: three uploads under way hold them all.
    time.sleep(5)  # the user's rate is back
    held = []
    try:
        for _ in range(3):
            connection = door.connect()
            connection.sendall(("POST /api/v1/jobs HTTP/1.1\r\nHost: localhost\r\n"
                                f"Authorization: Bearer {door.user}\r\n"
                                "Content-Type: multipart/form-data; boundary=x\r\n"
                                f"Content-Length: {MIB}\r\n\r\n").encode() + b"-" * 1000)
            held.append(connection)
        time.sleep(1)
        status, answer, _ = door.send("POST", f"/api/v1/agent/jobs/{door.job}/claim", 20,
                                      door.agent)
        assert (status, answer["error"]) == (429, "too_many_requests")
    finally:
        for connection in held:
            connection.close()


def test_the_dashboard_is_served_through_nginx_with_its_policy(front_door):
    origin = front_door.url.removesuffix("/api/v1")
    with requests.Session() as session:
        session.trust_env = False
        moved = session.get(origin + "/", verify=front_door.nginx.certificate,
                            allow_redirects=False, timeout=30)
        page = session.get(origin + "/dashboard/", verify=front_door.nginx.certificate,
                           timeout=30)
    assert moved.status_code == 302 and moved.headers["Location"].endswith("/dashboard/")
    assert page.status_code == 200 and "<title>Raycrafter</title>" in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
