"""Keep a frame's lease alive from a background thread while the frame is worked on.

The API hands a frame to another node once its lease runs out, so a long render must
heartbeat. The keeper also knows, in local monotonic time, until when the lease surely
holds: the lease length counted from the moment the last successful heartbeat was *sent*,
which needs no agreement between the node's clock and the API's.
"""

import logging
import threading
import time
from typing import Callable, Optional

from raycrafter_contract.utilities.backoff import Backoff
from raycrafter_contract.wire.retrying import delay_before_retry

from .api_client import ApiClient, ApiRefused, ApiUnavailable, LeaseGone

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Heartbeats every third of the lease; calls ``on_lost`` once if the API says the lease
    or the job is gone (409) or refuses the agent, so the caller can stop the renderer at once."""

    def __init__(self, client: ApiClient, frame: int, lease_id: str, lease_seconds: float,
                 claimed_at: float, on_lost: Callable[[], None]) -> None:
        self._client = client
        self._frame = frame
        self._lease_id = lease_id
        self._seconds = lease_seconds
        self._interval = max(1.0, lease_seconds / 3.0)
        self._on_lost = on_lost
        self._deadline = claimed_at + lease_seconds
        self._stop = threading.Event()
        self.lost_reason: Optional[str] = None
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def holds(self) -> bool:
        """Whether the lease is still ours as far as the agent can know."""
        return self.seconds_left > 0

    @property
    def seconds_left(self) -> float:
        """How much longer the lease surely holds (0 once it is lost)."""
        if self.lost_reason is not None:
            return 0.0
        return max(0.0, self._deadline - time.monotonic())

    def _run(self) -> None:
        backoff = Backoff(first=1.0, cap=self._interval)
        delay = self._interval
        while not self._stop.wait(delay):
            sent_at = time.monotonic()
            try:
                self._client.heartbeat(self._frame, self._lease_id)
            except (LeaseGone, ApiRefused) as gone:
                self.lost_reason = str(gone)
                log.warning("lease of frame %d is gone (%s): stopping work on it",
                            self._frame, gone)
                self._on_lost()
                return
            except ApiUnavailable as error:
                # One more heartbeat must land before the lease runs out, whatever the API
                # asked for.
                delay = delay_before_retry(backoff.next_delay(), error.retry_after,
                                           latest=self.seconds_left / 2)
                log.warning("heartbeat failed, retrying in %.1f s (lease holds %.0f s more): %s",
                            delay, max(0.0, self._deadline - time.monotonic()), error)
                continue
            self._deadline = sent_at + self._seconds
            backoff.reset()
            delay = self._interval
