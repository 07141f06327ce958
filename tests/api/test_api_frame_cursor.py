"""A job's frames polled by a cursor (frames/frame_cursor.py): each poll returns the frames
written since the last one, a write that commits after a later one included, and nothing
else on PostgreSQL; on SQLite, which stamps nothing, every frame each time."""
import psycopg2
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies

from support.api_testing import assert_error


def frames(client, job_id, **query):
    response = client.get(f"/jobs/{job_id}/frames", params=query)
    assert response.status_code == 200, response.text
    return response.json()


def numbers(page):
    return {frame["number"] for frame in page["frames"]}


def write(database_url, job_id, number):
    """Commit a write to frame ``number`` in a connection of its own, as a request's would."""
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute("UPDATE frame SET attempts = attempts + 1 "
                       "WHERE job_id = %s AND number = %s", (job_id, number))
    connection.close()


def test_a_cursor_asks_for_what_was_written_since(world, database_url):
    alice, job_id = world.alice, world.job_x["id"]
    cursor = frames(alice, job_id)["cursor"]
    claim = world.claim(world.agent_x, job_id)
    changed = frames(alice, job_id, after=cursor)
    leased = [f["number"] for f in changed["frames"] if f["state"] == "leased"]
    assert leased == [claim["frame"]]
    if database_url.startswith("sqlite"):  # no stamps: every frame, always
        assert changed["cursor"] == "0" and numbers(changed) == {1, 2, 3}
    else:
        assert numbers(changed) == {claim["frame"]}
        assert frames(alice, job_id, after=changed["cursor"])["frames"] == []


def test_a_cursor_that_no_answer_gave_is_refused(world):
    alice, job_id = world.alice, world.job_x["id"]
    for cursor in ("yesterday", "-1", "1.5", "9" * 20, "9223372036854775808", " 1"):
        assert_error(alice.get(f"/jobs/{job_id}/frames", params={"after": cursor}),
                     400, field="after")
    assert frames(alice, job_id, after="")["total"] == 3  # no cursor: every frame


@pytest.mark.postgres_only
def test_a_write_that_commits_after_a_later_one_comes_in_the_next_poll(world, database_url):
    """The earlier write holds the smaller stamp and commits after the poll that saw the
    later one: the cursor that poll gave still asks for it."""
    alice, job_id = world.alice, world.job_x["id"]
    cursor = frames(alice, job_id)["cursor"]
    slow = psycopg2.connect(database_url)
    try:
        with slow.cursor() as statement:  # a transaction id taken, not yet committed
            statement.execute("UPDATE frame SET state = 'done' WHERE job_id = %s AND number = 1",
                              (job_id,))
        write(database_url, job_id, 2)
        seen = frames(alice, job_id, after=cursor)
        assert numbers(seen) == {2}
        slow.commit()
    finally:
        slow.close()
    later = frames(alice, job_id, after=seen["cursor"])
    assert 1 in numbers(later)
    assert [f["state"] for f in later["frames"] if f["number"] == 1] == ["done"]


# A step of the world beside a paging poller: a write committed at once, a write left
# uncommitted (committed by a later step), the oldest uncommitted write committed, or the
# poller asking for its next page.
STEPS = strategies.lists(strategies.one_of(
    strategies.tuples(strategies.just("write"), strategies.integers(1, 3)),
    strategies.tuples(strategies.just("begin"), strategies.integers(1, 3)),
    strategies.tuples(strategies.just("commit"), strategies.none()),
    strategies.tuples(strategies.just("page"), strategies.none())), max_size=20)


class Poller:
    """A job page polling page by page (limit 1, so writes fall between its pages), keeping
    the cursor of each poll's first page. ``bounded``: as dashboard.js does, its later
    pages bounded by that cursor (``until``) and asked by frame number; else by offset,
    as a client that knows neither."""

    def __init__(self, client, job_id, bounded):
        self.client, self.job_id, self.bounded = client, job_id, bounded
        self.after, self.round_cursor, self.start = frames(client, job_id)["cursor"], None, 0
        self.seen = set()

    def page(self):
        if self.bounded:
            bound = {"until": self.round_cursor} if self.round_cursor else {}
            page = frames(self.client, self.job_id, after=self.after, limit=1,
                          from_number=self.start, **bound)
            self.start = page["next_number"]
        else:
            page = frames(self.client, self.job_id, after=self.after, limit=1,
                          offset=self.start)
            self.start = page["next_offset"]
        self.seen |= numbers(page)
        self.round_cursor = self.round_cursor or page["cursor"]
        if self.start is None:
            self.after, self.round_cursor, self.start = self.round_cursor, None, 0
            return True
        return False

    def poll(self):
        while not self.page():
            pass


@pytest.mark.postgres_only
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(STEPS)
# A poll between a write and an earlier one that commits after it.
@example([("begin", 1), ("write", 2), ("page", None), ("commit", None)])
# A bounded poll whose frame 1, read on its first page, is written again before its
# second: it leaves the bound, and no frame after it is skipped.
@example([("write", 1), ("write", 2), ("write", 3), ("page", None), ("write", 1),
          ("page", None)])
@pytest.mark.parametrize("bounded", [True, False], ids=["bounded by number", "by offset"])
def test_the_polls_together_return_every_frame_written_and_no_other(world, database_url,
                                                                      bounded, steps):
    job_id = world.job_x["id"]
    poller = Poller(world.alice, job_id, bounded)
    open_writes, written = [], set()
    try:
        for step, number in steps:
            held = {held_number for _, held_number in open_writes}
            if step == "write" and number not in held:  # a held row would block
                write(database_url, job_id, number)
                written.add(number)
            elif step == "begin" and number not in held:
                connection = psycopg2.connect(database_url)
                with connection.cursor() as statement:
                    statement.execute("UPDATE frame SET attempts = attempts + 1 "
                                      "WHERE job_id = %s AND number = %s", (job_id, number))
                open_writes.append((connection, number))
            elif step == "commit" and open_writes:
                connection, committed = open_writes.pop(0)
                connection.commit()
                connection.close()
                written.add(committed)
            elif step == "page":
                poller.page()
        while open_writes:
            connection, committed = open_writes.pop(0)
            connection.commit()
            connection.close()
            written.add(committed)
    finally:
        for connection, _ in open_writes:
            connection.close()
    poller.poll()  # the poll under way ends,
    poller.poll()  # and the next one asks from its first page's cursor
    assert poller.seen == written


@pytest.mark.postgres_only
def test_a_bounded_poll_leaves_what_is_written_while_it_pages_to_the_next(world,
                                                                          database_url):
    """Frames written ahead of a poll while it pages are not read by it (it would chase
    agents that write in the order it reads); the next poll has them."""
    alice, job_id = world.alice, world.job_x["id"]
    for number in (1, 2, 3):
        write(database_url, job_id, number)
    first = frames(alice, job_id, after="1", limit=1, from_number=0)
    assert numbers(first) == {1} and first["next_number"] == 2
    write(database_url, job_id, 3)  # an agent's report, ahead of the poll
    rest = frames(alice, job_id, after="1", until=first["cursor"], limit=5, from_number=2)
    assert numbers(rest) == {2} and rest["next_number"] is None
    later = frames(alice, job_id, after=first["cursor"])
    assert 3 in numbers(later)


def test_until_and_from_number_are_checked(world):
    alice, job_id = world.alice, world.job_x["id"]
    assert_error(alice.get(f"/jobs/{job_id}/frames", params={"until": "soon"}), 400,
                 field="until")
    for number in ("-1", "100000", "two"):
        assert_error(alice.get(f"/jobs/{job_id}/frames", params={"from_number": number}),
                     400, field="from_number")
    page = frames(alice, job_id, from_number=2, limit=1)
    assert [f["number"] for f in page["frames"]] == [2] and page["next_number"] == 3
