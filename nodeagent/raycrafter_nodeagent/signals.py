"""SIGTERM (the batch system's walltime) and SIGINT turn into an orderly stop.

The handler only records the request and tells the running renderer to end: handing the
frame back to the API, logging and exiting happen in the agent loop, because a signal
handler that takes locks (logging, threading.Event) can deadlock against the very code it
interrupted. Waits in the loop are short sleeps that look at the flag, for the same reason.
"""

import signal
import threading
import time
from typing import Callable, Dict, Optional

POLL_SECONDS = 0.2


class StopRequest:
    """Set once by a signal; read by the agent loop."""

    def __init__(self) -> None:
        self.signal_name: Optional[str] = None
        # One callback per render slot (thread) at most.
        self._on_signal: Dict[int, Callable[[], None]] = {}

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def call_on_signal(self, callback: Optional[Callable[[], None]]) -> None:
        """What to do at once when a signal arrives (stop this thread's renderer); None
        clears it."""
        if callback is None:
            self._on_signal.pop(threading.get_ident(), None)
        else:
            self._on_signal[threading.get_ident()] = callback

    def sleep(self, seconds: float) -> bool:
        """Sleep, waking early when a stop is requested; True if it was."""
        deadline = time.monotonic() + seconds
        while not self.requested:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(POLL_SECONDS, remaining))
        return self.requested

    def _handle(self, signum: int, _frame: object) -> None:
        self.signal_name = signal.Signals(signum).name
        for callback in list(self._on_signal.values()):
            callback()
