"""Exponential backoff with jitter, shared by every retry loop in the worker.

Jitter keeps a worker (or several) from hammering a login node or the API in lock-step
after an outage; the cap keeps the delay useful once the outage is over.
"""
import random
import time


class Backoff:
    """Delays 1, 2, 4 ... seconds (capped), each drawn from [delay/2, delay]."""

    def __init__(self, base=1.0, cap=60.0, rng=None):
        self.base, self.cap = base, cap
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self):
        delay = min(self.cap, self.base * 2 ** self.failures)
        self.failures += 1
        return delay / 2 + self._rng.uniform(0, delay / 2)

    def reset(self):
        self.failures = 0


def sleep_unless_stopped(seconds, stop_event):
    """Wait ``seconds``; return True at once if ``stop_event`` is set meanwhile."""
    if stop_event is None:
        time.sleep(seconds)
        return False
    return stop_event.wait(seconds)
