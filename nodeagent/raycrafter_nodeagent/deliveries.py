"""A run's frames delivered from a thread of their own, a batch at a time, as the renderer
finishes them.

The renderer goes on with its next frame while the finished ones are delivered (checked,
the lease confirmed, placed, reported: ``Agent._deliver``). The frames finished meanwhile
go together in the next delivery, which begins at least ``SPACING_SECONDS`` after the last
one began: a render slot asks the API about twice a second at most (the confirmation and
the report) however fast its frames come, and less often, with more frames each time,
while the API is slow to answer.
"""

import threading
import time
from typing import Callable, Optional

SPACING_SECONDS = 1.0


class Deliveries:
    """Calls ``deliver(count)`` from its thread whenever frames were finished since the
    last call, ``count`` being how many of the run's frames are finished by then.
    ``close`` stops it, after the delivery under way; the caller delivers what is left."""

    def __init__(self, deliver: Callable[[int], None],
                 spacing: float = SPACING_SECONDS) -> None:
        self._deliver = deliver
        self._spacing = spacing
        self._finished = 0
        self._closed = False
        self._error: Optional[BaseException] = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="deliveries", daemon=True)

    def __enter__(self) -> "Deliveries":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def finished(self, count: int) -> None:
        """``count`` frames of the run are finished: their images are written."""
        with self._changed:
            self._finished = count
            self._changed.notify()

    def close(self) -> None:
        """Wait for the delivery under way, if any, and deliver no more; raise what a
        delivery raised (the API refusing the agent for good)."""
        with self._changed:
            self._closed = True
            self._changed.notify()
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        delivered = 0
        began = -self._spacing
        try:
            while True:
                with self._changed:
                    while not self._closed:
                        if self._finished > delivered:
                            wait = began + self._spacing - time.monotonic()
                            if wait <= 0:
                                break
                        else:
                            wait = None
                        self._changed.wait(wait)
                    if self._closed:
                        return
                    count = self._finished
                began = time.monotonic()
                self._deliver(count)
                delivered = count
        except BaseException as error:  # raised in the caller's thread by close()
            self._error = error
