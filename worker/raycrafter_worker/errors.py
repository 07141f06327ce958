"""Error classes the worker acts on (docs/worker.md, "Errors").

Every failure is either *transient* (the network, SSH, the broker, the API or a busy
scheduler: retry with backoff, the job is not at fault) or *permanent* (a bad profile, a
refused host key, permission denied on scratch, a scheduler rejecting the request: fail
the job at once with a reason a person can act on). Code that catches an exception from a
library converts it into one of these two, so the consumer needs to know only them; the
one exception is a cluster that holds as many of our batch jobs as it may
(QueueLimitReached), after which the job waits its turn.
"""


class WorkerError(Exception):
    """Base class; ``str()`` is the explanation shown to users and operators."""


class TransientError(WorkerError):
    """Worth retrying later: nothing about the job or the profile is wrong.
    ``retry_after``: the seconds the API asked to wait first, or None."""

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class DiskFull(TransientError):
    """A full file system or an exhausted quota, on the cluster's scratch or the worker's
    own disk: most likely another job's files, so retried; a stage-in that keeps meeting
    it is bounded (handlers.py, ``stage_in_disk_wait_seconds``)."""


class PermanentError(WorkerError):
    """Retrying cannot help; the job fails with this message."""


class ConfigError(PermanentError):
    """The configuration file or a cluster profile is wrong (names the profile and key)."""


class ApiConflict(PermanentError):
    """The API refused a change with 409 (e.g. the job moved on meanwhile).

    ``code`` is the API's error code such as ``illegal_transition``; handlers decide
    whether the conflict means "someone else already did it" or a real failure.
    """

    def __init__(self, code, message, details=None):
        super().__init__(message)
        self.code = code
        self.details = details or {}


class ShuttingDown(WorkerError):
    """Raised inside a handler when SIGTERM asked the worker to stop between steps."""


class SubmittingElsewhere(TransientError):
    """This attempt's submission marker exists: another command (another worker, or an
    earlier try whose answer was lost) hands or handed it to the scheduler."""


class QueueLimitReached(WorkerError):
    """The cluster holds as many batch jobs of ours as it may (the profile's
    ``max_queued_jobs``, or the scheduler's own per-user limit refused the submission):
    neither a failure of the job nor worth retrying at once. The job waits in
    ``staging`` for its turn (docs/worker.md, "Queue limits")."""
