"""The authorization matrix: every endpoint x every kind of caller.

Job X belongs to alice; ``agent_x``/``agent_y`` are the agent tokens of jobs X and Y;
``site`` is the site agent of X's cluster, ``site_archer`` that of another cluster.
An expected answer of ``OK`` is the endpoint's own answer once the caller is let in (for
some calls that is a 409 about the job's state, which proves the caller got past the
authorization checks); anything else is the exact (status, error code).
"""
import pytest

from support.api_testing import PNG, job_fields, scene_upload, sha256

CALLERS = ("anonymous", "alice", "bob", "root", "worker", "agent_x", "agent_y", "site",
           "site_archer")
UNAUTHENTICATED = (401, "unauthorized")
FORBIDDEN = (403, "forbidden")
HIDDEN = (404, "not_found")
OK = "ok"


@pytest.fixture
def config_values(config_values):
    """Clusters default and archer are in pull mode, cirrus is the worker's."""
    return {**config_values, "clusters": ["default", "archer", "cirrus"],
            "pull_clusters": ["default", "archer"]}


def expect(**answers):
    """Answers per caller: the given ones, 401 for anonymous and 403 for all others."""
    table = {caller: FORBIDDEN for caller in CALLERS}
    table["anonymous"] = UNAUTHENTICATED
    table.update(answers)
    return table


USERS_OWN = expect(alice=OK, bob=HIDDEN, root=OK)
USERS_ANY = expect(alice=OK, bob=OK, root=OK)
AGENT_X = expect(agent_x=OK)
WORKER = expect(worker=OK, site=OK)
WORKER_LISTING = expect(worker=OK, site=OK, site_archer=OK)  # a site agent's: its own jobs
SITE = expect(site=OK, site_archer=OK)
PUBLIC = {caller: OK for caller in CALLERS}
LEASE = {"lease_id": "not-the-lease"}

# (method, path, request arguments, expected answers, the allowed answer (status, code))
ENDPOINTS = [
    ("GET", "/health", {}, PUBLIC, (200, None)),
    ("GET", "/openapi.json", {}, PUBLIC, (200, None)),
    ("POST", "/jobs", {"files": scene_upload(), "data": job_fields()}, USERS_ANY, (201, None)),
    ("GET", "/jobs", {}, USERS_ANY, (200, None)),
    ("GET", "/jobs/{x}", {}, USERS_OWN, (200, None)),
    ("POST", "/jobs/{x}/cancel", {}, USERS_OWN, (200, None)),
    ("GET", "/jobs/{x}/events", {}, USERS_OWN, (200, None)),
    ("GET", "/jobs/{x}/frames", {}, USERS_OWN, (200, None)),
    ("GET", "/jobs/{x}/frames/1", {}, USERS_OWN, (404, "image_not_available")),
    ("GET", "/jobs/{x}/frames/1/log", {}, USERS_OWN, (200, None)),
    ("GET", "/jobs/{x}/archive", {}, USERS_OWN, (409, "no_images")),
    ("GET", "/webhook-secret", {}, USERS_ANY, (200, None)),
    ("POST", "/webhook-secret/rotate", {}, USERS_ANY, (200, None)),
    ("POST", "/agent/jobs/{x}/claim", {"json": {"holder": "n1"}}, AGENT_X, (200, None)),
    ("POST", "/agent/jobs/{x}/frames/1/heartbeat", {"json": LEASE}, AGENT_X,
     (409, "stale_lease")),
    ("POST", "/agent/jobs/{x}/frames/1/complete",
     {"json": {**LEASE, "render_seconds": 1, "checksum": sha256(PNG), "size": len(PNG)}},
     AGENT_X, (409, "stale_lease")),
    ("POST", "/agent/jobs/{x}/frames/1/fail", {"json": {**LEASE, "reason": "x"}}, AGENT_X,
     (409, "stale_lease")),
    ("POST", "/agent/jobs/{x}/frames/1/release", {"json": LEASE}, AGENT_X,
     (409, "stale_lease")),
    ("GET", "/worker/jobs", {}, WORKER_LISTING, (200, None)),
    ("GET", "/worker/jobs/{x}", {}, WORKER, (200, None)),
    ("GET", "/worker/jobs/{x}/input", {}, WORKER, (200, None)),
    ("POST", "/worker/jobs/{x}/submissions", {"json": {}}, WORKER,
     (409, "illegal_transition")),
    ("POST", "/worker/jobs/{x}/transition", {"json": {"to": "running"}}, WORKER, (200, None)),
    ("POST", "/worker/jobs/{x}/batch-ended", {"json": {"attempt": 1}}, WORKER, (200, None)),
    ("PUT", "/worker/jobs/{x}/frames/1/image",
     {"data": PNG, "headers": {"Content-Type": "image/png", "X-Checksum-Sha256": sha256(PNG)}},
     WORKER, (409, "frame_not_done")),
    ("GET", "/site/commands", {}, SITE, (200, None)),
    ("POST", "/site/commands/c-0/done", {"json": {}}, SITE, (404, "not_found")),
    ("POST", "/site/open-jobs", {"json": {"max_jobs": 1}}, SITE, (200, None)),
]


@pytest.mark.parametrize("method, path, arguments, answers, allowed", ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, *_ in ENDPOINTS])
def test_authorization_matrix(world, method, path, arguments, answers, allowed):
    url = path.format(x=world.job_x["id"])
    seen = {}
    for caller in CALLERS:
        response = getattr(world, caller).request(method, url, **arguments)
        body = response.json() if response.headers.get("Content-Type", "").startswith(
            "application/json") else {}
        seen[caller] = (response.status_code, body.get("error"))
    expected = {caller: allowed if answer == OK else answer for caller, answer in answers.items()}
    if path == "/jobs/{x}/cancel":
        expected["root"] = (409, "illegal_transition")  # alice cancelled it just before
    if path in ("/jobs/{x}/cancel", "/worker/jobs/{x}/batch-ended"):
        # The job's end, or its batch job's, revoked its agent's token before it called.
        expected["agent_x"] = (401, "token_revoked")
    assert seen == expected


def test_the_domain_knows_no_http_and_every_refusal_has_one_status():
    """Domain modules raise problems.Problem kinds; http/errors.py alone maps them to HTTP."""
    import pathlib
    import raycrafter_api
    from raycrafter_api import problems
    from raycrafter_api.http import errors
    kinds = {kind for kind in vars(problems).values()
             if isinstance(kind, type) and issubclass(kind, problems.Problem)
             and kind is not problems.Problem}
    assert kinds == set(errors.STATUS)
    package = pathlib.Path(raycrafter_api.__file__).parent
    domain = [path for path in package.rglob("*.py")
              if path.parent.name != "http" and path.name != "app.py"]
    assert {"job_states", "job_views", "leases", "worker_reports"} <= {p.stem for p in domain}
    for path in domain:
        source = path.read_text()
        assert "bottle" not in source and "ApiError" not in source, path.stem
