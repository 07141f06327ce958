"""Keep a frame's lease alive from a background thread while the frame is worked on.

The API hands a frame to another node once its lease runs out, so a long render must
heartbeat. The keeper also knows, in local monotonic time, until when the lease surely
holds: the lease length counted from the moment the last successful heartbeat was *sent*,
which needs no agreement between the node's clock and the API's. That is not enough to
put a frame into place: the API also hands leases back before they run out (a batch job
reported ended, a job cancelled), so the agent asks it (``confirm``) right before.
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
        self._guard = threading.Lock()
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

    def confirm(self, frame: int) -> bool:
        """Whether the API says, now, that the lease still holds ``frame`` (a heartbeat
        through it, which also extends the lease), retrying through an outage for as long
        as the lease surely holds. A lease found gone, or run out meanwhile, stops the work
        like a heartbeat's answer does."""
        backoff = Backoff(first=0.5, cap=5.0)
        while self.holds:
            try:
                return self._beat(frame)
            except ApiUnavailable as error:
                log.warning("could not ask the API whether the lease still holds frame %d, "
                            "keeping the result and asking again: %s", frame, error)
                time.sleep(backoff.next_delay())
        self._lose("the lease ran out while the API could not be asked")
        return False

    def _run(self) -> None:
        backoff = Backoff(first=1.0, cap=self._interval)
        delay = self._interval
        while not self._stop.wait(delay):
            try:
                if not self._beat(self._frame):
                    return
            except ApiUnavailable as error:
                # One more heartbeat must land before the lease runs out, whatever the API
                # asked for.
                delay = delay_before_retry(backoff.next_delay(), error.retry_after,
                                           latest=self.seconds_left / 2)
                log.warning("heartbeat failed, retrying in %.1f s (lease holds %.0f s more): %s",
                            delay, max(0.0, self._deadline - time.monotonic()), error)
                continue
            backoff.reset()
            delay = self._interval

    def _beat(self, frame: int) -> bool:
        """One heartbeat through ``frame``: whether the lease holds (a lost one is recorded
        and the work stopped); raises ApiUnavailable."""
        sent_at = time.monotonic()
        try:
            self._client.heartbeat(frame, self._lease_id)
        except (LeaseGone, ApiRefused) as gone:
            self._lose(str(gone))
            return False
        with self._guard:
            self._deadline = max(self._deadline, sent_at + self._seconds)
        return True

    def _lose(self, reason: str) -> None:
        with self._guard:
            if self.lost_reason is not None:
                return
            self.lost_reason = reason
        log.warning("lease of frame %d is gone (%s): stopping work on it", self._frame, reason)
        self._on_lost()
