"""Every JSON response the API gives is the one its OpenAPI document describes for that
operation and status: a job's whole life is driven through the real API (a user, the
worker and an agent, errors included) and each body is validated against the schema the
served document gives for it, so the document cannot drift from what is sent."""
import re

import pytest
from openapi_schema_validator import OAS31Validator

from support.api_testing import PNG, Client, job_fields, scene_upload, sha256


class Conformance:
    """Checks each response against the served document; counts what it checked."""

    def __init__(self, document):
        self.document = document
        self.checked = set()
        self.templates = [(re.compile("^" + re.sub(r"\{\w+\}", r"[^/]+", path) + "$"), path)
                          for path in document["paths"]]

    def check(self, method, url, response):
        path = "/api/v1" + url.split("/api/v1", 1)[1].split("?", 1)[0]
        template = next((t for pattern, t in self.templates if pattern.match(path)), None)
        assert template, f"{method} {path} is not in the document"
        operation = self.document["paths"][template][method.lower()]
        status = str(response.status_code)
        assert status in operation["responses"], \
            f"{method} {template} answered {status}, which the document does not list"
        if not response.headers.get("Content-Type", "").startswith("application/json"):
            return
        pointer = self._schema_pointer(template, method.lower(), status, operation)
        # The whole document is the root schema, so every #/components reference resolves.
        schema = {**self.document, "$ref": pointer}
        errors = sorted(OAS31Validator(schema).iter_errors(response.json()), key=str)
        assert not errors, f"{method} {template} {status}: {errors[0].message}"
        self.checked.add((method.upper(), template, status))

    def _schema_pointer(self, template, method, status, operation):
        answer = operation["responses"][status]
        if "$ref" in answer:
            return answer["$ref"] + "/content/application~1json/schema"
        escaped = template.replace("~", "~0").replace("/", "~1")
        return (f"#/paths/{escaped}/{method}/responses/{status}"
                f"/content/application~1json/schema")


@pytest.fixture
def conformance(api, monkeypatch):
    document = api.client().get("/openapi.json").json()
    watcher = Conformance(document)
    original = Client.request

    def request(self, method, path, **kwargs):
        response = original(self, method, path, **kwargs)
        watcher.check(method, self.base + path, response)
        return response

    monkeypatch.setattr(Client, "request", request)
    return watcher


def test_a_jobs_whole_life_answers_as_documented(world, conformance):
    alice, worker = world.alice, world.worker
    job = alice.post("/jobs", files=scene_upload(), data=job_fields(frames="1-2")).json()
    job_id = job["id"]
    alice.get("/jobs")
    alice.get(f"/jobs/{job_id}")
    worker.get(f"/worker/jobs/{job_id}")
    worker.get("/worker/jobs", params={"cluster": "default", "state": "pending"})
    worker.post(f"/worker/jobs/{job_id}/transition", json={"to": "staging"})
    token = worker.post(f"/worker/jobs/{job_id}/submissions", json={}).json()["agent_token"]
    worker.post(f"/worker/jobs/{job_id}/transition",
                json={"to": "submitted", "batch_job_id": "4242"})
    agent = world.api.client(token)
    for _ in range(2):
        claim = agent.post(f"/agent/jobs/{job_id}/claim", json={"holder": "nid001"}).json()
        frame = claim["frame"]
        agent.post(f"/agent/jobs/{job_id}/frames/{frame}/heartbeat",
                   json={"lease_id": claim["lease"]["id"]})
        agent.post(f"/agent/jobs/{job_id}/frames/{frame}/complete",
                   json={"lease_id": claim["lease"]["id"], "render_seconds": 0.5,
                         "checksum": sha256(PNG), "size": len(PNG), "log_tail": "ok"})
    agent.post(f"/agent/jobs/{job_id}/claim", json={"holder": "nid001"})
    for number in (1, 2):
        worker.put(f"/worker/jobs/{job_id}/frames/{number}/image", data=PNG,
                   headers={"Content-Type": "image/png", "X-Checksum-Sha256": sha256(PNG)})
    worker.post(f"/worker/jobs/{job_id}/transition", json={"to": "done"})
    alice.get(f"/jobs/{job_id}/frames")
    alice.get(f"/jobs/{job_id}/events")
    alice.get(f"/jobs/{job_id}/frames/1")
    alice.get(f"/jobs/{job_id}/archive")
    # Refusals answer in the error shape with a documented status.
    alice.post(f"/jobs/{job_id}/cancel")
    world.bob.get(f"/jobs/{job_id}")
    world.anonymous.get("/jobs")
    alice.get("/worker/jobs")
    alice.post("/jobs", files=scene_upload("a.exe"), data=job_fields())
    agent.post(f"/agent/jobs/{job_id}/frames/1/heartbeat", json={"lease_id": "gone"})

    statuses = {status for _, _, status in conformance.checked}
    assert {"200", "201", "400", "401", "403", "404", "409"} <= statuses
    assert len(conformance.checked) >= 18, sorted(conformance.checked)


def test_a_batch_job_that_ended_is_answered_as_documented(world, conformance):
    job_id = world.job_x["id"]
    worker = world.worker
    worker.post(f"/worker/jobs/{job_id}/batch-ended",
                json={"attempt": 1, "batch_job_id": str(1000 + job_id),
                      "reason": "in state TIMEOUT", "exit_status": None})
    worker.post(f"/worker/jobs/{job_id}/submissions", json={})
    worker.post(f"/worker/jobs/{job_id}/transition",
                json={"to": "submitted", "batch_job_id": "4243"})
    worker.post(f"/worker/jobs/{job_id}/batch-ended", json={"attempt": 1})
    worker.post(f"/worker/jobs/{job_id}/batch-ended", json={"attempt": 2, "exit_status": "x"})
    worker.post(f"/worker/jobs/{job_id}/batch-ended", json={"attempt": 2, "exit_status": 1})
    assert {(template, status) for _, template, status in conformance.checked
            if template.endswith("/batch-ended")} == {
        ("/api/v1/worker/jobs/{job_id}/batch-ended", status) for status in ("200", "400", "409")}
    assert world.job(job_id)["state"] == "failed"


def test_the_dashboards_calls_answer_as_documented(world, conformance):
    root, job_id = world.root, world.job_x["id"]
    root.get("/me")
    tag = root.get("/jobs", params={"name": "tea", "owner": "alice"}).headers["ETag"]
    root.get("/jobs", params={"name": "tea", "owner": "alice"}, headers={"If-None-Match": tag})
    cursor = root.get(f"/jobs/{job_id}/frames").json()["cursor"]
    root.get(f"/jobs/{job_id}/frames", params={"after": cursor})
    root.get(f"/jobs/{job_id}/frames", params={"after": "yesterday"})
    root.get(f"/jobs/{job_id}/frames/1/thumbnail")
    user = root.post("/admin/users", json={"name": "carol"}).json()["user"]
    root.post("/admin/users", json={"name": "carol"})
    root.post(f"/admin/users/{user['id']}/tokens")
    token = root.get("/admin/tokens").json()["tokens"][0]
    root.post(f"/admin/tokens/{token['id']}/revoke")
    root.post(f"/admin/tokens/{token['id']}/revoke")
    root.get("/admin/users")
    root.get("/admin/queue")
    world.alice.get("/admin/queue")
    assert {(method, template, status) for method, template, status in conformance.checked
            if "/admin/" in template or template.endswith("/me")} >= {
        ("GET", "/api/v1/me", "200"), ("POST", "/api/v1/admin/users", "201"),
        ("POST", "/api/v1/admin/users", "409"),
        ("POST", "/api/v1/admin/users/{user_id}/tokens", "201"),
        ("GET", "/api/v1/admin/tokens", "200"),
        ("POST", "/api/v1/admin/tokens/{token_id}/revoke", "200"),
        ("POST", "/api/v1/admin/tokens/{token_id}/revoke", "409"),
        ("GET", "/api/v1/admin/users", "200"), ("GET", "/api/v1/admin/queue", "200"),
        ("GET", "/api/v1/admin/queue", "403")}
    assert {(template, status) for _, template, status in conformance.checked
            if template.endswith("/frames")} == {
        ("/api/v1/jobs/{job_id}/frames", status) for status in ("200", "400")}
