"""The agent side of the agent calls in docs/protocol.md, over the contract's HTTP helper.

Every failure is sorted into one of three kinds, because the agent reacts to each
differently: the API is unreachable or busy for now (retry later, no sooner than it asked:
the contract's retry rule), the lease or the job is gone (409, or the token revoked with
the batch job or the job: stop this frame and move on), or the API refuses the agent for
good (stop).
"""

import json
from typing import List, Optional, Sequence, Tuple, Union

from raycrafter_contract.utilities.http_client import (ApiConnection, CallFailed, ErrorAnswer,
                                                      NoAnswer)
from raycrafter_contract.wire.agent_calls import (ClaimEnded, ClaimLeased, ClaimRequest,
                                                  ClaimWait, CompleteReport, FailReport,
                                                  FrameDone, FrameFailed, FrameOutcome,
                                                  FrameStateAnswer, HeartbeatAnswer,
                                                  LeaseReport, LeaseReports,
                                                  LeaseReportsAnswer, parse_claim_answer)
from raycrafter_contract.wire.endpoints import API_PATH, MAX_JSON_BODY_BYTES
from raycrafter_contract.wire.errors import TOKEN_REVOKED

from . import __version__

ClaimAnswer = Union[ClaimLeased, ClaimWait, ClaimEnded]


class ApiUnavailable(Exception):
    """No answer, or an answer that says "not now" (5xx, 429): worth trying again, after
    ``retry_after`` seconds at the soonest if the API asked for that."""

    def __init__(self, message: str, retry_after: Optional[float] = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LeaseGone(Exception):
    """409: the lease expired and went elsewhere, or the job is no longer active; or 401
    with the agent's token revoked, because its batch job or its job ended."""

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

    def report(self, lease_id: str, done: Sequence[FrameDone] = (),
               failed: Sequence[FrameFailed] = (),
               released: Sequence[int] = ()) -> List[FrameOutcome]:
        """Report several frames of one lease in one call (agent protocol 2): one outcome
        for each frame, in the order given. A report larger than the API reads goes in
        parts."""
        report = LeaseReports(lease_id, tuple(done), tuple(failed), tuple(released))
        parts = [report]
        outcomes: List[FrameOutcome] = []
        while parts:
            part = parts.pop(0)
            if len(json.dumps(part.to_json())) > MAX_JSON_BODY_BYTES and _frame_count(part) > 1:
                parts[:0] = _halves(part)
                continue
            outcomes.extend(self._post("/reports", part, LeaseReportsAnswer).frames)
        return outcomes

    def _post(self, path, body, answer):  # type: ignore[no-untyped-def]
        try:
            return self._api.call("POST", path, body, answer)
        except CallFailed as failure:
            raise _classified(failure) from None


def _frame_count(report: LeaseReports) -> int:
    return len(report.done) + len(report.failed) + len(report.released)


def _halves(report: LeaseReports) -> List[LeaseReports]:
    """The report as two, each with about half of its frames, in their order."""
    entries = ([("done", entry) for entry in report.done]
               + [("failed", entry) for entry in report.failed]
               + [("released", number) for number in report.released])
    middle = len(entries) // 2
    return [LeaseReports(report.lease_id, **{kind: tuple(item for k, item in part if k == kind)
                                              for kind in ("done", "failed", "released")})
            for part in (entries[:middle], entries[middle:])]


def _classified(failure: CallFailed) -> Exception:
    if failure.transient:
        return ApiUnavailable("API unavailable: %s" % failure, failure.retry_after)
    if isinstance(failure, ErrorAnswer) and (failure.status == 409
                                             or failure.body.error == TOKEN_REVOKED):
        return LeaseGone(failure.body.error, failure.body.message)
    if isinstance(failure, NoAnswer) and failure.untrusted:
        return ApiRefused("%s (check --ca-file)" % failure)
    return ApiRefused("API refused the agent: %s" % failure)
