"""Site agents (clusters in pull mode): a site agent's token reaches its own cluster's jobs
only, its commands wait in the outbox for it instead of going to the broker, and open
jobs are each taken by one cluster."""
import threading

import pytest

from raycrafter_api.database import db
from raycrafter_api.outbox import commands
from support.api_testing import assert_error


@pytest.fixture
def config_values(config_values):
    """Clusters default and archer are in pull mode, cirrus is the worker's."""
    return {**config_values, "clusters": ["default", "archer", "cirrus"],
            "pull_clusters": ["default", "archer"]}


def undone(site):
    answer = site.get("/site/commands")
    assert answer.status_code == 200, answer.text
    return [(c["command"], c["job_id"], c["cluster"]) for c in answer.json()["commands"]]


def test_a_site_agent_acts_as_the_worker_for_its_own_clusters_jobs_only(world):
    mine = world.create_job(world.alice, cluster="archer")["id"]
    other = world.job_x["id"]  # cluster default
    site = world.site_archer
    listed = site.get("/worker/jobs", params={"state": "pending"}).json()["jobs"]
    assert [job["id"] for job in listed] == [mine]
    assert_error(site.get("/worker/jobs", params={"cluster": "default"}), 403, "forbidden")
    for method, path, body in (("GET", "", None), ("GET", "/input", None),
                               ("POST", "/submissions", {}),
                               ("POST", "/transition", {"to": "staging"}),
                               ("POST", "/batch-ended", {"attempt": 1}),
                               ("GET", "/frames/uncollected", None)):
        assert_error(site.request(method, f"/worker/jobs/{other}{path}", json=body), 403,
                     "forbidden")
    assert site.post(f"/worker/jobs/{mine}/transition", json={"to": "staging"}).ok
    recorded = site.post(f"/worker/jobs/{mine}/submissions", json={})
    assert recorded.status_code == 201 and recorded.json()["attempt"] == 1
    events = world.alice.get(f"/jobs/{mine}/events").json()["events"]
    assert (events[-1]["actor"], events[-1]["to"]) == ("site:archer", "staging")


def test_a_clusters_commands_wait_for_its_site_agent_not_for_the_broker(world, api):
    job = world.create_job(world.alice, cluster="archer")["id"]
    world.create_job(world.alice, cluster="cirrus")
    assert undone(world.site_archer) == [("submit", job, "archer")]
    with db.connection():
        relayed = {(c.command, c.cluster) for c in
                   commands.unsent(100, api.config.clusters_not_on_the_broker)}
    assert relayed == {("submit", "cirrus")}
    command = world.site_archer.get("/site/commands").json()["commands"][0]
    assert_error(world.site.post(f"/site/commands/{command['id']}/done", json={}), 404,
                 "not_found")
    for _ in range(2):  # carried out twice (a restarted site agent): the same answer
        done = world.site_archer.post(f"/site/commands/{command['id']}/done", json={})
        assert done.status_code == 200 and done.json() == command
    assert undone(world.site_archer) == []
    world.alice.post(f"/jobs/{job}/cancel")
    assert undone(world.site_archer) == [("cancel", job, "archer")]


def test_a_site_agent_of_a_cluster_not_in_pull_mode_is_refused(api):
    cirrus = api.client(api.site_token("cirrus"))
    for response in (cirrus.get("/site/commands"),
                     cirrus.post("/site/open-jobs", json={"max_jobs": 1})):
        body = assert_error(response, 403, "forbidden")
        assert "not in pull mode" in body["message"]


def test_an_open_job_is_taken_by_one_cluster_and_its_submit_goes_there(world):
    open_jobs = [world.create_job(world.alice, cluster="any")["id"] for _ in range(3)]
    assert world.job(open_jobs[0])["cluster"] == "any"
    assert undone(world.site_archer) == []
    taken = world.site_archer.post("/site/open-jobs", json={"max_jobs": 2}).json()["jobs"]
    assert taken == open_jobs[:2]
    assert undone(world.site_archer) == [("submit", job, "archer") for job in taken]
    rest = world.site.post("/site/open-jobs", json={"max_jobs": 5}).json()["jobs"]
    assert rest == open_jobs[2:]
    assert world.site.post("/site/open-jobs", json={"max_jobs": 5}).json()["jobs"] == []
    assert world.job(taken[0])["cluster"] == "archer"
    events = world.alice.get(f"/jobs/{taken[0]}/events").json()["events"]
    assert (events[-1]["actor"], events[-1]["reason"]) == ("site:archer",
                                                          "taken by cluster archer")
    for bad in ({"max_jobs": 0}, {"max_jobs": 51}, {"max_jobs": "2"}, {}):
        assert_error(world.site.post("/site/open-jobs", json=bad), 400, "invalid_field",
                     "max_jobs")


def test_only_pending_open_jobs_are_taken(world):
    cancelled = world.create_job(world.alice, cluster="any")["id"]
    world.alice.post(f"/jobs/{cancelled}/cancel")
    waiting = world.create_job(world.alice, cluster="any")["id"]
    assert world.site.post("/site/open-jobs", json={"max_jobs": 5}).json()["jobs"] == [waiting]
    assert world.job(cancelled)["cluster"] == "any"


def test_site_agents_taking_at_once_never_share_a_job(world, api):
    """Four site agents of two clusters take two at a time until none is left: every job
    is taken exactly once (SKIP LOCKED on PostgreSQL, the write lock on SQLite)."""
    open_jobs = {world.create_job(world.alice, cluster="any")["id"] for _ in range(16)}
    takers = [api.client(api.site_token(cluster)) for cluster in ("default", "archer") * 2]
    taken = []
    start = threading.Barrier(len(takers))

    def take(site):
        start.wait()
        while True:
            answer = site.post("/site/open-jobs", json={"max_jobs": 2})
            assert answer.status_code == 200, answer.text
            if not answer.json()["jobs"]:
                return
            taken.extend(answer.json()["jobs"])

    threads = [threading.Thread(target=take, args=(site,)) for site in takers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(taken) == sorted(open_jobs)
    by_cluster = {world.job(job)["cluster"] for job in open_jobs}
    assert by_cluster <= {"default", "archer"}
