"""Helpers for tests that talk to the API over HTTP: a small client, sample scenes and
images, archive builders, the error-shape assertion, and ``World`` (users, worker, jobs)."""
import hashlib
import io
import tarfile

import requests

SCENE = (b"#version 3.7;\ncamera { location <0, 2, -3> look_at <0, 1, 2> }\n"
         b"sphere { <0, 1, 2>, 2 texture { pigment { color rgb <1, clock, 0> } } }\n")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"fake png body" * 10


class Client:
    """requests with a base URL and an optional bearer token."""

    def __init__(self, base, token=None):
        self.base = base
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method, path, **kwargs):
        return self.session.request(method, self.base + path, timeout=30, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)

    def close(self):
        self.session.close()


def scene_upload(name="scene.pov", content=SCENE):
    return {"scene": (name, content, "application/octet-stream")}


def job_fields(**overrides):
    fields = {"name": "teapot", "frames": "1-3", "width": "64", "height": "48"}
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def tar_gz(members):
    """A .tar.gz in memory from (TarInfo, bytes or None) pairs or (name, bytes) pairs."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, data in members:
            if isinstance(member, str):
                member = tarfile.TarInfo(member)
                member.size = len(data)
            archive.addfile(member, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def worker_transition(worker, job_id, to, **body):
    """The worker's state report for a job, which must be accepted."""
    response = worker.post(f"/worker/jobs/{job_id}/transition", json={"to": to, **body})
    assert response.status_code == 200, response.text
    return response.json()


def submit_as_worker(worker, job_id, batch_job_id):
    """staging -> submission recorded -> submitted, as the worker does; returns the new
    attempt's agent token."""
    worker_transition(worker, job_id, "staging")
    response = worker.post(f"/worker/jobs/{job_id}/submissions", json={})
    assert response.status_code == 201, response.text
    worker_transition(worker, job_id, "submitted", batch_job_id=batch_job_id)
    return response.json()["agent_token"]


class World:
    """Users alice and bob, admin root, the worker, the site agents of clusters default and
    archer, and a job of alice's (X) and of bob's (Y) on cluster default, both submitted,
    with an agent token each."""

    def __init__(self, api):
        self.api = api
        self.alice = api.client(api.user_token("alice"))
        self.bob = api.client(api.user_token("bob"))
        self.root = api.client(api.user_token("root", "admin"))
        self.worker = api.client(api.worker_token())
        self.site = api.client(api.site_token("default"))
        self.site_archer = api.client(api.site_token("archer"))
        self.anonymous = api.client()
        self.job_x = self.create_job(self.alice)
        self.job_y = self.create_job(self.bob)
        self.agent_x = api.client(self.submit(self.job_x["id"]))
        self.agent_y = api.client(self.submit(self.job_y["id"]))

    def create_job(self, client, files=None, **fields):
        response = client.post("/jobs", files=files or scene_upload(), data=job_fields(**fields))
        assert response.status_code == 201, response.text
        return response.json()

    def transition(self, job_id, to, **body):
        return worker_transition(self.worker, job_id, to, **body)

    def batch_ended(self, job_id, attempt, **body):
        """The worker's report that the batch job of ``attempt`` ended; must be accepted."""
        response = self.worker.post(f"/worker/jobs/{job_id}/batch-ended",
                                    json={"attempt": attempt, **body})
        assert response.status_code == 200, response.text
        return response.json()

    def submit(self, job_id):
        """staging -> submission recorded -> submitted; returns the agent token."""
        return submit_as_worker(self.worker, job_id, f"{1000 + job_id}")

    def claim(self, agent, job_id, holder="nid001", max_frames=None):
        body = {"holder": holder} if max_frames is None else {"holder": holder,
                                                              "max_frames": max_frames}
        response = agent.post(f"/agent/jobs/{job_id}/claim", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def complete(self, agent, job_id, claim, image=PNG, frame=None):
        """Complete the claim's (first) frame, or ``frame`` of its chunk."""
        frame = claim["frame"] if frame is None else frame
        return agent.post(f"/agent/jobs/{job_id}/frames/{frame}/complete",
                          json={"lease_id": claim["lease"]["id"], "render_seconds": 1.5,
                                "checksum": sha256(image), "size": len(image),
                                "log_tail": f"rendered frame {frame}"})

    def job(self, job_id):
        return self.root.get(f"/jobs/{job_id}").json()



def assert_error(response, status, code=None, field=None):
    """The response is the one JSON error shape with this status (and code, field)."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "message", "details"}
    assert isinstance(body["message"], str) and body["message"]
    if code:
        assert body["error"] == code, body
    if field:
        assert body["details"]["field"] == field, body
    return body
