"""A job's and the job list's ETags made without building the answers (jobs/job_tags.py):
every write to a job or to one of its frames moves them, a write that commits after a later
one included, and an unchanged job or page keeps its tag and is answered 304."""
import psycopg2
import pytest
from hypothesis import HealthCheck, given, settings, strategies

from raycrafter_api.database import db
from raycrafter_api.jobs import job_tags, job_views

pytestmark = pytest.mark.postgres_only  # SQLite stamps nothing: its tags are the bodies' hashes

# Every column a job's or a frame's row has that a write may change, each written back
# with a value of its own (a column written to its own value is a write all the same).
JOB_WRITES = ["state = 'running'", "state = 'submitted'", "error = 'x'", "name = name || 'x'",
              "updated_at = updated_at", "batch_job_id = '7'", "submit_attempt = submit_attempt"]
FRAME_WRITES = ["state = 'done'", "state = 'pending'", "state = 'leased'", "attempts = attempts + 1",
                "log_tail = 'rendered'", "lease_expires_at = NULL", "updated_at = updated_at",
                "image_checksum = NULL", "render_seconds = 1.5"]


@pytest.fixture
def job_id(world, database_url):
    with db.connection():
        yield world.job_x["id"]


def write(database_url, statement, *params):
    """Commit ``statement`` in a connection of its own, as another request's would."""
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute(statement, params)
    connection.close()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(strategies.lists(strategies.one_of(
    strategies.tuples(strategies.just("job"), strategies.sampled_from(JOB_WRITES),
                      strategies.just(None)),
    strategies.tuples(strategies.just("frame"), strategies.sampled_from(FRAME_WRITES),
                      strategies.integers(1, 3))), min_size=1, max_size=6))
def test_every_write_to_a_job_or_its_frames_moves_its_tag(database_url, job_id, writes):
    seen = {job_tags.of_job(job_id)}
    for table, change, number in writes:
        if table == "job":
            write(database_url, f"UPDATE job SET {change} WHERE id = %s", job_id)
        else:
            write(database_url, f"UPDATE frame SET {change} WHERE job_id = %s AND number = %s",
                  job_id, number)
        tag = job_tags.of_job(job_id)
        assert tag is not None and tag not in seen, (table, change)
        assert job_tags.of_job(job_id) == tag  # nothing written: the same tag
        seen.add(tag)


def test_a_write_that_commits_after_a_later_one_moves_the_tag(world, database_url):
    """The earlier write holds the smaller stamp and commits last: a tag given while it
    ran must not stand for what it commits."""
    alice, job_id = world.alice, world.job_x["id"]
    slow = psycopg2.connect(database_url)
    try:
        with slow.cursor() as cursor:  # a transaction id taken, not yet committed
            cursor.execute("UPDATE frame SET state = 'done' WHERE job_id = %s AND number = 1",
                           (job_id,))
        write(database_url, "UPDATE frame SET state = 'done' WHERE job_id = %s AND number = 2",
              job_id)
        before = alice.get(f"/jobs/{job_id}")
        assert before.json()["progress"]["done"] == 1
        slow.commit()
    finally:
        slow.close()
    after = alice.get(f"/jobs/{job_id}", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.json()["progress"]["done"] == 2


def test_an_unchanged_job_and_page_are_answered_before_they_are_built(world, monkeypatch):
    """A settled job's tag is its stamps' (not the body's hash), so a 304 builds nothing."""
    alice, job_id = world.alice, world.job_x["id"]
    tags = {path: alice.get(path).headers["ETag"] for path in (f"/jobs/{job_id}", "/jobs")}

    def refuse(*_):
        raise AssertionError("the view was built for a 304")
    monkeypatch.setattr(job_views, "views", refuse)
    for path, tag in tags.items():
        again = alice.get(path, headers={"If-None-Match": tag})
        assert (again.status_code, again.headers["ETag"]) == (304, tag), path
    monkeypatch.undo()
    for path in ("/jobs?limit=1", "/jobs?offset=1"):  # another page of the list
        assert alice.get(path, headers={"If-None-Match": tags["/jobs"]}).status_code == 200


def test_a_job_off_the_page_moves_the_list_s_tag_when_it_changes_the_total(world):
    """The page shows its one job unchanged; another of the user's jobs leaving the state
    asked for changes the total, and so the tag. Another user's job changes neither."""
    alice = world.alice
    older = world.create_job(alice)["id"]
    newest = world.create_job(alice)["id"]
    path = "/jobs?state=pending&limit=1"
    first = alice.get(path)
    assert [job["id"] for job in first.json()["jobs"]] == [newest]
    assert first.json()["total"] == 2
    world.transition(world.create_job(world.bob)["id"], "staging")
    assert alice.get(path, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    world.transition(older, "staging")
    after = alice.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200 and after.json()["total"] == 1
    assert [job["id"] for job in after.json()["jobs"]] == [newest]
