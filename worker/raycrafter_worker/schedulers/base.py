"""What every scheduler adapter shares: the interface and the batch job it reports. A
failed scheduler command is classified as every command on the login node is
(command_failures.py)."""
import dataclasses
import os
import shlex
import signal

QUEUED, RUNNING, ENDED = "queued", "running", "ended"


@dataclasses.dataclass(frozen=True)
class BatchJob:
    """One job as the scheduler reports it; ``state`` is QUEUED, RUNNING or ENDED, and
    ``raw_state`` the scheduler's own word for it. ``exit_code`` is what the scheduler
    recorded (its own encoding: a PBS Exit_status may be negative or 256 + a signal) and
    ``ending`` says in words how an ended job ended, for the person whose job it was."""

    id: str
    name: str
    state: str
    raw_state: str
    exit_code: int | None = None
    owner: str = ""
    ending: str | None = None

    @property
    def active(self):
        return self.state != ENDED


class UnreadableListing(ValueError):
    """A listing came back but cannot be read (PBS's JSON is not always valid JSON): the
    next form of the same question is asked."""


class Scheduler:
    """One batch system: builds command lines and parses their output; never runs them
    (the transport does), so every parser is tested against captured real output."""

    name = ""
    # The environment variable holding the batch job's id inside the batch script.
    JOB_ID_VARIABLE = ""

    def __init__(self, profile):
        self.profile = profile

    def command(self, program, *args):
        """``program`` from the profile's ``scheduler_bin_dir`` (or the login shell's
        PATH), with its arguments, quoted."""
        directory = self.profile.scheduler_bin_dir
        return shlex.join([os.path.join(directory, program) if directory else program,
                           *args])

    def submit_command(self, script, job_name, stdout, stderr):
        raise NotImplementedError

    def parse_submit(self, output):
        """The new batch job's id from the submitting command's standard output, or
        ValueError: an error text is never taken for an id."""
        raise NotImplementedError

    def list_commands(self):
        """Commands that each list every batch job of the cluster user: the first whose
        answer can be read is used (a later one is a fallback)."""
        raise NotImplementedError

    def parse_list(self, result):
        """[BatchJob] of the cluster user's jobs in a listing's ``result``; raises the
        error a failed listing amounts to, or UnreadableListing."""
        raise NotImplementedError

    def accounting_commands(self, job_ids):
        """Commands asking the scheduler's records about jobs that left the queue (each a
        fallback for the one before); none where it keeps no such records."""
        return []

    def parse_accounting(self, result):
        """[BatchJob] from an accounting ``result``; [] when it knows nothing of them."""
        return []

    def cancel_command(self, job_ids):
        raise NotImplementedError

    def cancel_found_them_ended(self, result):
        """True when a refused cancel says only that its jobs have ended already."""
        return False


def signal_name(number):
    """``SIGTERM`` for 15; signals are numbered as on Linux, as on every cluster here."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
