"""Whose turn it is when a cluster may hold only so many of our batch jobs (a profile's
``max_queued_jobs``, or the scheduler's own per-user limit): docs/worker.md, "Queue
limits".

Places are shared among the users, not handed out by arrival alone: each user's waiting
jobs form a line in the order they were submitted, and a free place goes to the head of
the line whose owner has the fewest batch jobs in the scheduler's hands (counting the
places handed out before it in the same order); among owners holding as many, to the one
whose last turn is longest ago, then to the head that has waited longest (since it was
created, or, for a job whose batch job ended and that waits for another, since then). So
one user's hundred jobs take turns with another user's one, which waits for one place to
free, not for the hundred.

When each user last had a turn is kept on the login node beside the queue lock
(``SCRATCH/raycrafter/.queue-turns``, one line per submission: the time and a hash of the
user's name, the last 500 kept), where every worker process, and the submissions of all
of them, see the same record.

A job that has to wait stays in ``staging``; the worker process that found it waiting
remembers it (WaitingJobs), and its poller hands it back to the submit handler when its
turn comes. A worker that dies forgets what it remembered: the API's reconciler sends such
a job's ``submit`` again after ``reconcile_after_seconds.staging``, so a job waits longer
then, but never fails or is lost for it.
"""
import collections
import hashlib
import heapq
import shlex
import threading

from raycrafter_contract.states import BATCH_STATES, COMMAND_FOR_STATE

# The states of a job that waits to be submitted.
WAITING_STATES = tuple(state for state, command in COMMAND_FOR_STATE.items()
                       if command == "submit")


TURNS_KEPT = 500


def turn_order(jobs, last_turns=None):
    """The ids of the waiting jobs among ``jobs`` (the API's views of a cluster's jobs
    that wait or are in the scheduler's hands) in the order they take free places;
    ``last_turns``: {owner_key: when the owner last had one} (TurnRecord.parse)."""
    last_turns = last_turns or {}
    held = collections.Counter(job.owner for job in jobs if job.state in BATCH_STATES)
    lines = collections.defaultdict(collections.deque)
    for job in sorted((job for job in jobs if job.state in WAITING_STATES),
                      key=lambda job: job.id):
        lines[job.owner].append(job)
    turns = [_turn(held[owner], last_turns.get(owner_key(owner), 0), line[0], owner)
             for owner, line in lines.items()]
    heapq.heapify(turns)
    order = []
    while turns:
        count, _, _, job_id, owner = heapq.heappop(turns)
        order.append(job_id)
        lines[owner].popleft()
        if lines[owner]:  # its turn now: after every owner who waits as long
            heapq.heappush(turns, _turn(count + 1, float("inf"), lines[owner][0], owner))
    return order


def _turn(held, last_turn, head, owner):
    return held, last_turn, _waiting_since(head), head.id, owner


def _waiting_since(job):
    """A job never submitted waits since it was created; one submitted before, since its
    last change (the end of its batch job sent it back). ISO 8601 UTC times of one form
    sort as the moments they name."""
    return job.updated_at if job.submit_attempt else job.created_at


def owner_key(owner):
    """How the record on the login node names a user: a hash, so the user's name is
    neither written to the cluster's file system nor quoted into a command."""
    return hashlib.sha256(owner.encode()).hexdigest()[:16]


class TurnRecord:
    """When each user last had a turn on a cluster, kept on its login node."""

    def __init__(self, profile):
        self.path = f"{profile.jobs_root}/.queue-turns"

    def read_command(self):
        return f"tail -n {TURNS_KEPT} {shlex.quote(self.path)} 2>/dev/null; true"

    def append_command(self, owner):
        """Shell that records a turn of ``owner`` now and keeps the last TURNS_KEPT. A
        record lost to two submitters at once only changes an order, never a count."""
        path = shlex.quote(self.path)
        return (f"{{ echo \"$(date +%s) {owner_key(owner)}\" >> {path} && "
                f"tail -n {TURNS_KEPT} {path} > {path}.$$ && mv -f {path}.$$ {path}; true; }}")

    @staticmethod
    def parse(text):
        """{owner_key: epoch seconds of the owner's last turn}."""
        last = {}
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit():
                last[parts[1]] = max(int(parts[0]), last.get(parts[1], 0))
        return last


class WaitingJobs:
    """The jobs this worker process found waiting for a place, by cluster."""

    def __init__(self):
        self._guard = threading.Lock()
        self._jobs = collections.defaultdict(set)

    def park(self, cluster, job_id):
        with self._guard:
            self._jobs[cluster].add(job_id)

    def release(self, cluster, job_id):
        with self._guard:
            self._jobs[cluster].discard(job_id)

    def of(self, cluster):
        with self._guard:
            return set(self._jobs[cluster])
