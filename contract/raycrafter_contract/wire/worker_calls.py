"""The worker's calls (docs/protocol.md, "Worker calls"): its reports, and the answers
that are not a job (a job is answered with ``jobs.WorkerJobView``)."""
from dataclasses import dataclass
from typing import Literal, Optional, Tuple

from ..states import WORKER_TARGETS
from .records import Record, omitted_when_none

# What a scheduler or an exit file may give as a batch job's exit status (Torque's are
# negative for jobs that never started, 256 + N for a signal): a 32-bit integer.
EXIT_STATUS_MIN, EXIT_STATUS_MAX = -2**31, 2**31 - 1


@dataclass(frozen=True)
class Submission(Record):
    """A submission attempt, recorded before the scheduler is called; ``resumed`` when it
    is the open attempt (recorded, never reported submitted) again. ``log_credential``
    (``raycrafter_contract.log_credentials``) is what the attempt's node agents send with
    their log records; an API without the log server's key issues none."""

    attempt: int
    batch_name: str
    agent_token: str
    resumed: bool = False
    log_credential: Optional[str] = omitted_when_none()


@dataclass(frozen=True)
class ServiceLogCredential(Record):
    """What the worker or a site agent sends its own records about jobs to the log server
    with (``raycrafter_contract.job_logging``): a service credential naming ``service``."""

    service: str
    credential: str


@dataclass(frozen=True)
class TransitionReport(Record):
    """The state the worker's own step brought the job to."""

    to: Literal[WORKER_TARGETS]
    batch_job_id: Optional[str] = omitted_when_none()
    reason: Optional[str] = omitted_when_none()
    attempt: Optional[int] = omitted_when_none()


@dataclass(frozen=True)
class BatchEndedReport(Record):
    """What a poll saw: the batch job of submission ``attempt`` ended."""

    attempt: int
    batch_job_id: Optional[str] = omitted_when_none()
    reason: Optional[str] = omitted_when_none()
    exit_status: Optional[int] = None


@dataclass(frozen=True)
class UncollectedFrame(Record):
    number: int
    checksum: Optional[str]
    size: Optional[int]


@dataclass(frozen=True)
class UncollectedFrames(Record):
    """The frames reported done whose image is not uploaded yet, lowest first, and how
    many there are in all (``frames`` holds at most the limit asked for)."""

    frames: Tuple[UncollectedFrame, ...]
    total: int


@dataclass(frozen=True)
class StoredImage(Record):
    frame: int
    checksum: str
