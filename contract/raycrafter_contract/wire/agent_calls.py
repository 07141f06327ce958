"""The node agent's calls (docs/protocol.md, "Node agent calls"): what it sends, and what
the API answers. A claim is answered with one of three records (``parse_claim_answer``).

The calls are versioned by ``AGENT_PROTOCOL``, which the API names in each lease it hands
out: 1 reports each frame in a call of its own (complete, fail, release), 2 adds
``LeaseReports``, what became of several frames of one lease in one call. An agent speaks
2 only to an API whose lease says so; the API serves the calls of 1 as before."""
from dataclasses import dataclass, field
from typing import Any, Dict, Literal, Optional, Tuple

from ..animation import Animation
from ..naming import DEFAULT_SCENE_FILE
from ..states import FRAME_STATES
from .errors import ErrorBody
from .jobs import FrameSpan
from .records import Record, WireError, omitted_when_none

# The agent protocol of this contract: 2 reports several frames of a lease in one call.
AGENT_PROTOCOL = 2


@dataclass(frozen=True)
class ClaimRequest(Record):
    holder: str  # the node's name
    max_frames: int = 1  # the most frames this agent renders under one lease


@dataclass(frozen=True)
class AgentJob(Record):
    """What an agent needs to render a frame of the job. The defaults are an older API's,
    which sent no animation (the frames asked for are the whole animation), renderer,
    options or scene file."""

    id: int
    width: int
    height: int
    frames: FrameSpan
    animation: Optional[Animation] = None
    renderer: str = "povray"
    options: Dict[str, Any] = field(default_factory=dict)
    scene_file: str = DEFAULT_SCENE_FILE  # relative to the job's input/ on scratch


@dataclass(frozen=True)
class LeaseTerms(Record):
    id: str
    expires_at: str
    seconds: int


@dataclass(frozen=True)
class ClaimLeased(Record):
    """A chunk: consecutive frames under one lease, the first being ``frame``. An API
    from before chunks sent ``frame`` alone."""

    frame: int
    attempt: int
    lease: LeaseTerms
    job: AgentJob
    frames: Tuple[int, ...] = ()
    protocol: int = 1  # the agent protocol the API speaks (AGENT_PROTOCOL)
    status: Literal["leased"] = "leased"

    def __post_init__(self):
        if not self.frames:
            object.__setattr__(self, "frames", (self.frame,))
        elif self.frames[0] != self.frame:
            raise ValueError("the chunk %r does not start with frame %d"
                             % (list(self.frames), self.frame))


@dataclass(frozen=True)
class ClaimWait(Record):
    """Every frame left is leased elsewhere, or the job is not yet marked submitted."""

    retry_after: int
    status: Literal["wait"] = "wait"


@dataclass(frozen=True)
class ClaimEnded(Record):
    """Nothing is left for agents: the job is finished, or cancelled (or failed)."""

    status: Literal["finished", "cancelled"]


CLAIM_ANSWERS = {"leased": ClaimLeased, "wait": ClaimWait, "finished": ClaimEnded,
                 "cancelled": ClaimEnded}


def parse_claim_answer(document):
    """The ClaimLeased, ClaimWait or ClaimEnded a claim's answer is, or WireError."""
    status = document.get("status") if isinstance(document, dict) else None
    if status not in CLAIM_ANSWERS:
        raise WireError("a claim answer's status must be one of %s, not %r"
                        % (", ".join(CLAIM_ANSWERS), status))
    return CLAIM_ANSWERS[status].from_json(document)


@dataclass(frozen=True)
class LeaseReport(Record):
    """Heartbeat and release: the lease the agent holds the frame under."""

    lease_id: str


@dataclass(frozen=True)
class CompleteReport(Record):
    lease_id: str
    render_seconds: float
    checksum: str  # SHA-256 of the image, lowercase hex
    size: int
    log_tail: Optional[str] = omitted_when_none()


@dataclass(frozen=True)
class FailReport(Record):
    lease_id: str
    reason: str
    log_tail: Optional[str] = omitted_when_none()


@dataclass(frozen=True)
class HeartbeatAnswer(Record):
    expires_at: str


@dataclass(frozen=True)
class FrameStateAnswer(Record):
    frame_state: Literal[FRAME_STATES]


@dataclass(frozen=True)
class FrameDone(Record):
    """A frame of the lease rendered and in place: what ``complete`` reports of it."""

    frame: int
    render_seconds: float
    checksum: str  # SHA-256 of the image, lowercase hex
    size: int
    log_tail: Optional[str] = omitted_when_none()


@dataclass(frozen=True)
class FrameFailed(Record):
    """A frame of the lease that could not be rendered: what ``fail`` reports of it."""

    frame: int
    reason: str
    log_tail: Optional[str] = omitted_when_none()


@dataclass(frozen=True)
class LeaseReports(Record):
    """What became of several frames of one lease, in one call (protocol 2): those rendered,
    those that failed and those handed back, each frame once. The API takes them in that
    order, each as its own call would be taken."""

    lease_id: str
    done: Tuple[FrameDone, ...] = ()
    failed: Tuple[FrameFailed, ...] = ()
    released: Tuple[int, ...] = ()


@dataclass(frozen=True)
class FrameOutcome(Record):
    """What the API made of one frame's report: the frame's state now, or the error the
    frame's own call would have been answered with (``stale_lease``, ``job_not_active``,
    ``not_found``); the other frames of the call are taken all the same."""

    frame: int
    frame_state: Optional[Literal[FRAME_STATES]] = None
    refused: Optional[ErrorBody] = None


@dataclass(frozen=True)
class LeaseReportsAnswer(Record):
    """One outcome for each frame reported, in the order of the report."""

    frames: Tuple[FrameOutcome, ...]
