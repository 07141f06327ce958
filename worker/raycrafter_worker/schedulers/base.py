"""What every scheduler adapter shares: the interface and the batch job it reports. A
failed scheduler command is classified as every command on the login node is
(command_failures.py)."""
import dataclasses

QUEUED, RUNNING, ENDED = "queued", "running", "ended"


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
