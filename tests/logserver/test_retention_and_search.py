"""The log server's records kept within their bounds (rotated at a size, the rotated files
kept by number and age), and `raycrafter-logs` finding an operator's records in them:
by job, frame, level, time and text, across a rotation, and following new ones."""
import os
import subprocess
import sys
import time

from raycrafter_logserver.records import RecordsFile, rotated_files

from support.polling import wait_for

from .conftest import frame, send
from .test_log_server import record


def logs(server, *options, **kwargs):
    return subprocess.run([sys.executable, "-m", "raycrafter_logserver.search", "--config",
                           server.config_file, *options], capture_output=True, text=True,
                          timeout=60, **kwargs)


def test_a_chatty_job_fills_no_more_than_the_files_kept(log_server):
    server = log_server(rotate_bytes=4096, keep_files=2)
    credential = server.credential(5)
    for batch in range(40):
        send(server, *[frame(record(f"line {batch}.{n} " + "x" * 200, credential))
                       for n in range(10)])
    wait_for(lambda: len(rotated_files(server.records_file)) == 2, timeout=30,
             message="two rotated files")
    kept = rotated_files(server.records_file) + [server.records_file]
    assert len(kept) == 3
    # Each file is rotated once a batch's flush takes it past the size.
    assert all(os.path.getsize(path) < 4096 + 10 * 400 for path in kept)
    # The newest records are the ones kept: the last one written is there, the first gone.
    text = "".join(open(path).read() for path in kept)
    assert "line 39.9 " in text and "line 0.0 " not in text


def test_rotated_files_older_than_the_days_kept_are_removed(log_server):
    server = log_server(rotate_bytes=2048, keep_files=10, keep_days=1)
    credential = server.credential(6)
    for batch in range(6):
        send(server, *[frame(record("y" * 300, credential)) for _ in range(8)])
    wait_for(lambda: len(rotated_files(server.records_file)) >= 2, timeout=30,
             message="rotated files")
    old = rotated_files(server.records_file)[0]
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    # The server prunes at each report (every half second here), writing or not.
    wait_for(lambda: not os.path.exists(old), timeout=10, message="the old file pruned")


def test_an_operator_finds_a_jobs_records_by_frame_level_time_and_text(log_server):
    server = log_server(rotate_bytes=1024)
    seven, eight = server.credential(7), server.credential(8)
    now = time.time()
    long_ago = now - 3600
    send(server,
         frame(record("claimed frame 1", seven, _frame=1, level=6, level_name="INFO",
                      timestamp=long_ago)),
         frame(record("Parse Error in scene.pov", seven, _frame=2, level=3,
                      level_name="ERROR", timestamp=now)),
         frame(record("rendered frame 2 " + "z" * 1200, seven, _frame=2, level=6,
                      level_name="INFO", timestamp=now)),
         frame(record("another job's line", eight, _frame=2, level=3, level_name="ERROR",
                      timestamp=now)))
    server.wait_for(lambda rs: len(rs) == 4 or len(rotated_files(server.records_file)) > 0)
    wait_for(lambda: len(logs(server, "--job", "7").stdout.splitlines()) == 3, timeout=10,
             message="job 7's three records, across the rotation")
    assert rotated_files(server.records_file), "the records were rotated meanwhile"

    def lines(*options):
        found = logs(server, *options)
        assert found.returncode == 0, found.stderr
        return found.stdout.splitlines()

    assert [line.split(": ", 1)[1][:20] for line in lines("--job", "7")] == [
        "claimed frame 1", "Parse Error in scene", "rendered frame 2 zzz"]
    assert all(" job 7 " in line for line in lines("--job", "7"))
    assert [line.split(": ", 1)[1] for line in lines("--job", "7", "--frame", "2",
                                                     "--level", "error")] == [
        "Parse Error in scene.pov"]
    assert len(lines("--job", "7", "--since", "30m")) == 2
    assert len(lines("--level", "3")) == 2
    assert lines("--grep", "PARSE ERROR")[0].endswith("Parse Error in scene.pov")
    refused = logs(server, "--since", "yesterday")
    assert refused.returncode == 2 and "--since 'yesterday'" in refused.stderr


def test_following_shows_new_records_across_a_rotation(log_server):
    server = log_server(rotate_bytes=1024)
    credential = server.credential(9)
    send(server, frame(record("before", credential)))
    server.wait_for(lambda rs: len(rs) == 1)
    follower = subprocess.Popen([sys.executable, "-m", "raycrafter_logserver.search",
                                 "--config", server.config_file, "--job", "9", "--follow"],
                                stdout=subprocess.PIPE, text=True)
    assert_follows_across_a_rotation(follower, server, credential, send)


def assert_follows_across_a_rotation(follower, server, credential, send):
    """``follower`` (a --follow of job 9, which has one record, "before") shows a record
    sent now and one sent after the records file rotated (at 1 KiB); it is killed after."""
    try:
        assert follower.stdout.readline().rstrip().endswith(": before")
        send(server, frame(record("after " + "w" * 1100, credential)))
        assert follower.stdout.readline().rstrip().endswith("w" * 20)
        wait_for(lambda: rotated_files(server.records_file), timeout=10,
                 message="the file rotated")
        send(server, frame(record("in the new file", credential)))
        assert follower.stdout.readline().rstrip().endswith(": in the new file")
    finally:
        follower.kill()
        follower.wait()


def test_rotations_at_one_moment_never_reuse_an_older_files_name(tmp_path):
    """A clock that stands still (or rotations within a microsecond): the names still sort
    by age, so the newest are the ones kept."""
    path = str(tmp_path / "records.jsonl")
    records = RecordsFile(path, rotate_bytes=1, keep_files=2, clock=lambda: 1796640000.5).open()
    for number in range(5):
        records.write(f"record {number}\n".encode())
        records.flush()
    records.close()
    kept = rotated_files(path)
    assert [os.path.basename(name) for name in kept] == [
        "records.jsonl.20261207T104000.500000Z-4", "records.jsonl.20261207T104000.500000Z-5"]
    assert [open(name).read() for name in kept] == ["record 3\n", "record 4\n"]
