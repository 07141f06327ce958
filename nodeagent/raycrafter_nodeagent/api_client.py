"""The agent side of the agent calls in docs/protocol.md, over the contract's HTTP helper.

Every failure is sorted into one of three kinds, because the agent reacts to each
differently: the API is unreachable or busy for now (retry later, no sooner than it asked:
the contract's retry rule), the lease or the job is gone (409: stop this frame and move
on), or the API refuses the agent for good (stop).
"""

from typing import Optional, Tuple, Union

from raycrafter_contract.utilities.http_client import (ApiConnection, CallFailed, ErrorAnswer,
                                                      NoAnswer)
from raycrafter_contract.wire.agent_calls import (ClaimEnded, ClaimLeased, ClaimRequest,
                                                  ClaimWait, CompleteReport, FailReport,
                                                  FrameStateAnswer, HeartbeatAnswer,
                                                  LeaseReport, parse_claim_answer)
from raycrafter_contract.wire.endpoints import API_PATH

from . import __version__

ClaimAnswer = Union[ClaimLeased, ClaimWait, ClaimEnded]


class ApiUnavailable(Exception):
    """No answer, or an answer that says "not now" (5xx, 429): worth trying again, after
    ``retry_after`` seconds at the soonest if the API asked for that."""

    def __init__(self, message: str, retry_after: Optional[float] = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LeaseGone(Exception):
    """409: the lease expired and went elsewhere, or the job is no longer active."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__("%s: %s" % (code, message))
        self.code = code


class ApiRefused(Exception):
    """Any other 4xx, an answer outside the protocol, or a TLS certificate the CA file does
    not vouch for: retrying cannot help."""


class ApiClient:
    """One method per agent call of one job; each returns the answer's wire record."""

    def __init__(self, base_url: str, job_id: int, token: str, ca_file: Optional[str],
                 timeout: float, connect_to: Optional[Tuple[str, int]] = None) -> None:
        self._api = ApiConnection("%s%s/agent/jobs/%d" % (base_url, API_PATH, job_id), token,
                                  ca_file, timeout, "raycrafter-nodeagent/" + __version__,
                                  connect_to)

    def claim(self, holder: str, max_frames: int = 1) -> ClaimAnswer:
        return self._post("/claim", ClaimRequest(holder, max_frames), parse_claim_answer)

    def heartbeat(self, frame: int, lease_id: str) -> HeartbeatAnswer:
        return self._post("/frames/%d/heartbeat" % frame, LeaseReport(lease_id),
                          HeartbeatAnswer)

    def complete(self, frame: int, lease_id: str, render_seconds: float, checksum: str,
                 size: int, log_tail: str) -> FrameStateAnswer:
        return self._post("/frames/%d/complete" % frame, CompleteReport(
            lease_id, round(render_seconds, 3), checksum, size, log_tail), FrameStateAnswer)

    def fail(self, frame: int, lease_id: str, reason: str, log_tail: str) -> FrameStateAnswer:
        return self._post("/frames/%d/fail" % frame, FailReport(lease_id, reason, log_tail),
                          FrameStateAnswer)

    def release(self, frame: int, lease_id: str) -> FrameStateAnswer:
        return self._post("/frames/%d/release" % frame, LeaseReport(lease_id),
                          FrameStateAnswer)

    def _post(self, path, body, answer):  # type: ignore[no-untyped-def]
        try:
            return self._api.call("POST", path, body, answer)
        except CallFailed as failure:
            raise _classified(failure) from None


def _classified(failure: CallFailed) -> Exception:
    if failure.transient:
        return ApiUnavailable("API unavailable: %s" % failure, failure.retry_after)
    if isinstance(failure, ErrorAnswer) and failure.status == 409:
        return LeaseGone(failure.body.error, failure.body.message)
    if isinstance(failure, NoAnswer) and failure.untrusted:
        return ApiRefused("%s (check --ca-file)" % failure)
    return ApiRefused("API refused the agent: %s" % failure)
