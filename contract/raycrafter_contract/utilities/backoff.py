"""Exponential backoff with jitter: how every component waits before trying again.

Hundreds of node agents lose the API or the log server at the same moment, and several
workers and relays lose the broker together; without jitter they would all come back at
the same moment too and knock the service over again. The cap keeps the delay useful once
the outage is over.
"""
import random


class Backoff:
    """Successive waiting times: doubling from ``first`` up to ``cap``, each drawn at random
    from the upper half of its interval, so retries spread out but still grow."""

    def __init__(self, first=1.0, cap=60.0, rng=None):
        self.first = first
        self.cap = cap
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self):
        delay = min(self.cap, self.first * 2 ** min(self.failures, 64))
        self.failures += 1
        return self._rng.uniform(delay / 2, delay)

    def reset(self):
        self.failures = 0
