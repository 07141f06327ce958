"""Whose turn it is for a free place on a cluster (queue_turns.py): users share the places,
and each user's jobs go in the order they were submitted."""
import subprocess
import types

from raycrafter_worker.queue_turns import TurnRecord, WaitingJobs, owner_key, turn_order


def job(job_id, owner, state="staging", since="2026-11-22T10:00:00Z", attempts=0):
    """A job as the API shows the worker: created at ``since``, or, submitted
    ``attempts`` times before, sent back to wait at ``since``."""
    return types.SimpleNamespace(
        id=job_id, owner=owner, state=state, submit_attempt=attempts,
        created_at="2026-11-22T09:00:00Z" if attempts else since,
        updated_at=since if attempts else "2026-11-22T11:00:00Z")


def test_one_users_many_jobs_take_turns_with_another_users_one():
    jobs = [job(1, "alice"), job(2, "alice"), job(3, "alice"), job(4, "bob")]
    assert turn_order(jobs) == [1, 4, 2, 3]


def test_a_user_with_jobs_in_the_scheduler_goes_after_one_without():
    jobs = [job(1, "alice", "running"), job(2, "alice", "submitted"), job(3, "alice"),
            job(4, "alice"), job(5, "bob"), job(6, "carol", "pending")]
    # bob and carol hold nothing yet; alice holds two: she waits until they hold as many.
    assert turn_order(jobs) == [5, 6, 3, 4]


def test_a_user_whose_job_just_had_a_place_goes_after_one_who_waited():
    """alice's job 1 ran, its batch job ended, and it waits again: bob, who waited all the
    while, goes first, then alice's line in its order, job 1 at its head."""
    jobs = [job(1, "alice", since="2026-11-22T10:05:00Z", attempts=1), job(2, "alice"),
            job(3, "alice"), job(4, "bob", since="2026-11-22T10:00:01Z")]
    assert turn_order(jobs) == [4, 1, 2, 3]


def test_the_first_job_handled_keeps_its_place_before_jobs_created_after_it():
    """Moving to staging is no new wait: a job never submitted waits since its creation."""
    jobs = [job(1, "alice", since="2026-11-22T10:00:00Z"),
            job(2, "bob", "pending", since="2026-11-22T10:00:01Z")]
    assert turn_order(jobs) == [1, 2]


def test_among_equals_the_longest_waiting_goes_first_then_the_first_submitted():
    jobs = [job(9, "carol", since="2026-11-22T09:00:00Z"), job(7, "bob"), job(8, "alice"),
            job(3, "bob", "running"), job(2, "carol", "running"), job(1, "alice", "running")]
    assert turn_order(jobs) == [9, 7, 8]


def test_a_user_who_just_had_a_turn_goes_after_one_who_did_not():
    """alice's job 1 had the place and is gone; her jobs 2 and 3 were created before bob's
    job 4, but bob has not had a turn yet."""
    jobs = [job(2, "alice", since="2026-11-22T10:00:00Z"),
            job(3, "alice", since="2026-11-22T10:00:00Z"),
            job(4, "bob", since="2026-11-22T10:00:01Z")]
    assert turn_order(jobs) == [2, 4, 3]
    assert turn_order(jobs, {owner_key("alice"): 1795000000}) == [4, 2, 3]
    # bob's turn is recorded after alice's: hers again.
    assert turn_order(jobs, {owner_key("alice"): 1795000000,
                             owner_key("bob"): 1795000060}) == [2, 4, 3]


def test_the_record_of_turns_on_the_login_node_keeps_each_users_last(tmp_path):
    """The commands, run by a shell as the login node's runs them."""
    record = TurnRecord(type("Profile", (), {"jobs_root": str(tmp_path)})())
    for owner in ("alice", "bob", "alice's friend; rm -rf ~", "alice"):
        subprocess.run(["sh", "-c", record.append_command(owner)], check=True)
    lines = (tmp_path / ".queue-turns").read_text().splitlines()
    assert len(lines) == 4 and all(len(line.split()) == 2 for line in lines)
    read = subprocess.run(["sh", "-c", record.read_command()], capture_output=True,
                          text=True, check=True).stdout
    last = TurnRecord.parse(read)
    assert set(last) == {owner_key("alice"), owner_key("bob"),
                         owner_key("alice's friend; rm -rf ~")}
    assert "alice" not in read
    for _ in range(600):
        subprocess.run(["sh", "-c", record.append_command("carol")], check=True)
    assert len((tmp_path / ".queue-turns").read_text().splitlines()) == 500


def test_jobs_that_wait_for_nothing_have_no_turn():
    jobs = [job(1, "alice", "collecting"), job(2, "alice", "done"), job(3, "bob", "failed")]
    assert turn_order(jobs) == []


def test_a_worker_remembers_its_waiting_jobs_by_cluster():
    waiting = WaitingJobs()
    waiting.park("archer", 3)
    waiting.park("archer", 4)
    waiting.park("cirrus", 3)
    waiting.release("archer", 3)
    assert (waiting.of("archer"), waiting.of("cirrus"), waiting.of("other")) == ({4}, {3}, set())
