"""A job as the API shows it: to its user (``JobView``), and to the worker with the batch
bookkeeping (``WorkerJobView``, docs/protocol.md's JOB_FULL)."""
from dataclasses import dataclass
from typing import Any, Dict, Literal, Optional, Tuple

from ..animation import Animation
from ..states import JOB_STATES
from .records import Record


@dataclass(frozen=True)
class FrameSpan(Record):
    """The frames rendered: ``first``, ``first + step``, ... up to ``last``."""

    first: int
    last: int
    step: int


@dataclass(frozen=True)
class CountedFrameSpan(FrameSpan):
    count: int


@dataclass(frozen=True)
class SceneView(Record):
    kind: str  # pov, tar.gz, zip, ... (raycrafter_contract.scenes.KINDS)
    size: int
    checksum: str  # SHA-256, lowercase hex


@dataclass(frozen=True)
class JobView(Record):
    """The job as its user sees it; ``progress`` counts its frames by state."""

    id: int
    name: str
    owner: str
    state: Literal[JOB_STATES]
    error: Optional[str]
    frames: CountedFrameSpan
    animation: Animation
    progress: Dict[str, int]
    width: int
    height: int
    renderer: str
    options: Dict[str, Any]
    cluster: str
    scene: SceneView
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class WorkerJobView(JobView):
    """JOB_FULL: the user's view plus what the worker submits and polls by;
    ``state_changed_at`` is when the job entered its state (an older API sent none)."""

    submit_attempt: int
    batch_name: Optional[str]  # rc-ID-aK of the current attempt, null before the first
    batch_job_id: Optional[str]
    scene_file: str
    state_changed_at: Optional[str] = None


@dataclass(frozen=True)
class WorkerJobList(Record):
    jobs: Tuple[WorkerJobView, ...]


@dataclass(frozen=True)
class JobPage(Record):
    """A page of jobs, newest first; ``next_offset`` asks for the next page (null after
    the last)."""

    jobs: Tuple[JobView, ...]
    total: int
    limit: int
    offset: int
    next_offset: Optional[int]
