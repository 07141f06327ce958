"""Backoff delays grow, spread out, stop growing at the cap and start again after a reset."""
import random

from raycrafter_contract.utilities.backoff import Backoff


def test_delays_double_within_their_upper_half_up_to_the_cap():
    backoff = Backoff(first=0.5, cap=4.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(8)]
    for delay, ceiling in zip(delays, [0.5, 1, 2, 4, 4, 4, 4, 4]):
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_agents_failing_together_do_not_come_back_together():
    delays = {round(Backoff(first=8.0).next_delay(), 6) for _ in range(100)}
    assert len(delays) > 90


def test_a_long_outage_keeps_the_cap():
    backoff = Backoff(first=1.0, cap=30.0)
    for _ in range(10_000):
        delay = backoff.next_delay()
    assert 15.0 <= delay <= 30.0
