"""Exponential backoff with jitter, shared by every retry loop of the agent.

Hundreds of agents of one job lose the API or the log server at the same moment; without
jitter they would all come back at the same moment too and knock it over again.
"""

import random


class Backoff:
    """Successive waiting times: doubling from ``first`` up to ``cap``, each drawn at random
    from the upper half of its interval so retries spread out but still grow."""

    def __init__(self, first: float = 0.5, cap: float = 30.0) -> None:
        self.first = first
        self.cap = cap
        self._next = first

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self.cap, self._next * 2)
        return random.uniform(delay / 2, delay)

    def reset(self) -> None:
        self._next = self.first
