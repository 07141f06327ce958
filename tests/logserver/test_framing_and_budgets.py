"""The two bounds a connection cannot talk its way past: one record's size held at a time,
and its credential's budget of records and bytes."""
import pytest

from raycrafter_logserver.admission import Bucket
from raycrafter_logserver.framing import Frames


def test_records_are_split_on_nul_however_the_bytes_arrive():
    stream = b'{"a":1}\0\0{"b":2}\0{"c":' + b'3}\0 \0'
    for size in (1, 2, 5, len(stream)):
        frames = Frames(max_record_bytes=16)
        got = []
        for start in range(0, len(stream), size):
            got += frames.feed(stream[start:start + size])
        assert got == [b'{"a":1}', b'{"b":2}', b'{"c":3}'], size
        assert not frames.unfinished and frames.oversize == 0


@pytest.mark.parametrize("chunk", [1, 7, 64, 4096])
def test_a_record_over_the_bound_is_skipped_whole_and_the_next_one_read(chunk):
    frames = Frames(max_record_bytes=16)
    stream = b"x" * 16 + b"\0" + b"y" * 17 + b"\0" + b"z" * 1000 + b"\0" + b"ok\0"
    got = []
    for start in range(0, len(stream), chunk):
        got += frames.feed(stream[start:start + chunk])
        assert len(frames._pending) <= 16
    assert got == [b"x" * 16, b"ok"]
    assert frames.oversize == 2


def test_a_connection_that_ends_inside_a_record_says_so():
    frames = Frames(max_record_bytes=16)
    assert frames.feed(b'{"a":1}\0{"b"') == [b'{"a":1}']
    assert frames.unfinished


def test_a_bucket_lends_its_burst_then_asks_the_sender_to_wait_at_its_rate():
    bucket = Bucket(rate=10, burst=5, now=0.0)
    assert [bucket.take(1, 0.0) for _ in range(5)] == [0.0] * 5
    assert bucket.take(1, 0.0) == pytest.approx(0.1)   # one in debt: 0.1 s at 10 a second
    assert bucket.take(1, 0.0) == pytest.approx(0.2)
    assert bucket.take(1, 0.3) == pytest.approx(0.0)   # paid off meanwhile
    assert bucket.take(0, 100.0) == 0.0 and bucket.tokens == 5  # never above its burst
