"""A site agent's own calls (docs/protocol.md, "Site agent calls"): the commands for its
cluster, which it asks for instead of receiving them over AMQP, and the open jobs it
takes. Every other call it makes is a worker call, confined to its cluster's jobs."""
from dataclasses import dataclass
from typing import Literal, Tuple

from ..messaging import COMMANDS
from .records import Record


@dataclass(frozen=True)
class SiteCommand(Record):
    """One command of the outbox, as the worker receives it over AMQP
    (``messaging.command_body``)."""

    id: str
    command: Literal[COMMANDS]
    job_id: int
    cluster: str
    created_at: str


@dataclass(frozen=True)
class SiteCommands(Record):
    """The commands for a cluster not yet carried out, oldest first."""

    commands: Tuple[SiteCommand, ...]


@dataclass(frozen=True)
class OpenJobsRequest(Record):
    """How many open jobs the site agent takes at most this time."""

    max_jobs: int


@dataclass(frozen=True)
class TakenJobs(Record):
    """The open jobs now the caller's cluster's, by id."""

    jobs: Tuple[int, ...]
