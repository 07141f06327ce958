"""What every scheduler adapter shares: the interface, the batch job it reports, and the
one classification of a failed scheduler command."""
import dataclasses
import re

from ..errors import PermanentError, TransientError

QUEUED, RUNNING, ENDED = "queued", "running", "ended"

# Messages that mean "the scheduler is busy or briefly unreachable", not "your request is
# wrong". Anything else from a submission is taken as a rejection of the request itself.
_TRANSIENT_PATTERNS = re.compile(
    r"socket timed out|unable to contact slurm controller|slurm_load_jobs error: "
    r"(?:socket|unable|connection|communication)|connection refused|timed out|"
    r"resource temporarily unavailable|try again|too busy|cannot connect to server|"
    r"communication connection failure|end of file",
    re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class BatchJob:
    """One job as the scheduler reports it; ``state`` is QUEUED, RUNNING or ENDED."""

    id: str
    name: str
    state: str
    raw_state: str
    exit_code: int | None = None

    @property
    def active(self):
        return self.state != ENDED


def check(result, action):
    """Raise the right error class for a failed scheduler command, quoting its output."""
    if result.status == 0:
        return result
    text = " ".join((result.stderr.strip() + " " + result.stdout.strip()).split())
    message = f"{action} failed (exit {result.status}): {text or 'no output'}"
    if _TRANSIENT_PATTERNS.search(text):
        raise TransientError(message)
    raise PermanentError(message)


def is_empty_listing(scheduler, result):
    """True when a listing failed only because the user has no batch job at all."""
    return (scheduler.EMPTY_LISTING_STATUS is not None
            and result.status == scheduler.EMPTY_LISTING_STATUS
            and not result.stdout.strip() and not result.stderr.strip())


class Scheduler:
    """One batch system: builds command lines and parses their output; never runs them
    (the transport does), so every parser is tested against captured real output."""

    name = ""
    # The exit status of a listing that only means "this user has no job at all".
    EMPTY_LISTING_STATUS = None

    def __init__(self, profile):
        self.profile = profile

    def submit_command(self, script, job_name, stdout, stderr):
        raise NotImplementedError

    def parse_submit(self, output):
        """The new batch job's id, or ValueError."""
        raise NotImplementedError

    def list_command(self):
        """One command listing every batch job of the cluster user."""
        raise NotImplementedError

    def parse_list(self, output):
        """[BatchJob] of the cluster user's jobs in a listing."""
        raise NotImplementedError

    def accounting_command(self, job_ids):
        """A command asking accounting about jobs that left the queue; None without one."""
        return None

    def parse_accounting(self, output):
        return []

    def cancel_command(self, job_ids):
        raise NotImplementedError
