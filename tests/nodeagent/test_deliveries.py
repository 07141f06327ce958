"""Deliveries of a run's frames from a thread of their own: what finishes while one is
under way goes in the next, deliveries begin a spacing apart, and closing stops them."""

import threading
import time

import pytest

from raycrafter_nodeagent.deliveries import Deliveries

SPACING = 0.3


class Recorder:
    """A delivery function that notes each call and takes ``busy`` seconds."""

    def __init__(self, busy=0.0):
        self.busy = busy
        self.calls = []  # (finished count, when)
        self.delivered = threading.Event()

    def __call__(self, count):
        self.calls.append((count, time.monotonic()))
        self.delivered.set()
        time.sleep(self.busy)


def test_the_first_frame_goes_at_once_and_those_finished_meanwhile_together():
    deliver = Recorder()
    with Deliveries(deliver, spacing=SPACING) as deliveries:
        deliveries.finished(1)
        assert deliver.delivered.wait(5)
        for count in range(2, 8):  # six frames finish within the spacing
            deliveries.finished(count)
            time.sleep(0.01)
        time.sleep(SPACING * 3)
    assert [count for count, _ in deliver.calls] == [1, 7]
    assert deliver.calls[1][1] - deliver.calls[0][1] >= SPACING


def test_a_slow_delivery_makes_the_next_one_larger():
    deliver = Recorder(busy=SPACING * 2)
    with Deliveries(deliver, spacing=0.0) as deliveries:
        deliveries.finished(1)
        assert deliver.delivered.wait(5)
        for count in range(2, 6):
            deliveries.finished(count)
        time.sleep(SPACING * 4)
    assert [count for count, _ in deliver.calls] == [1, 5]


def test_closing_waits_for_the_delivery_under_way_and_starts_no_other():
    deliver = Recorder(busy=SPACING)
    deliveries = Deliveries(deliver, spacing=SPACING)
    with deliveries:
        deliveries.finished(1)
        assert deliver.delivered.wait(5)
        deliveries.finished(2)  # left to the caller, who delivers what is left
    closed_at = time.monotonic()
    assert [count for count, _ in deliver.calls] == [1]
    assert closed_at - deliver.calls[0][1] >= SPACING


def test_what_a_delivery_raised_is_raised_by_close():
    def refused(count):
        raise RuntimeError("the API refused the agent")

    deliveries = Deliveries(refused, spacing=0.0)
    with pytest.raises(RuntimeError, match="refused the agent"):
        with deliveries:
            deliveries.finished(1)
            time.sleep(0.2)
