"""The states of a job and of its frames, the ways a job may move between them, and the
command each state calls for.

The API enforces these; the worker, the CLI and the OpenAPI document read them from here.
"""
JOB_STATES = ("pending", "staging", "submitted", "running", "collecting", "done",
              "failed", "cancelled")
FINAL_JOB_STATES = ("done", "failed", "cancelled")
# While its batch job is in the scheduler's hands; the worker polls jobs in these states.
BATCH_STATES = ("submitted", "running")

# Final states have no way out. `staging` after `submitted`/`running` means the batch job
# ended with frames left: it is submitted again.
JOB_TRANSITIONS = {
    "pending": frozenset({"staging", "failed", "cancelled"}),
    "staging": frozenset({"submitted", "failed", "cancelled"}),
    "submitted": frozenset({"running", "staging", "collecting", "failed", "cancelled"}),
    "running": frozenset({"staging", "collecting", "failed", "cancelled"}),
    "collecting": frozenset({"done", "failed", "cancelled"}),
}

FRAME_STATES = ("pending", "leased", "done", "failed")

# The states the worker may ask for (``transition``): `collecting` follows from the frames,
# `cancelled` from users, and `staging` after a batch job only from the API's decision on
# the batch job's end (``batch-ended``).
WORKER_TARGETS = ("staging", "submitted", "running", "done", "failed")

# The command a job in each state calls for: the worker acts on a command only while the
# job is in one of its states, and the API writes it when the job enters such a state.
COMMAND_FOR_STATE = {"pending": "submit", "staging": "submit", "collecting": "collect",
                     "failed": "cancel", "cancelled": "cancel"}
# States that wait for the worker to carry their command out; the API's reconciler writes
# the command again for a job that waits in one of them too long. A final state's cancel
# is sent once: the next poll shows nothing left of the job to remove.
AWAITING_WORKER = tuple(state for state in COMMAND_FOR_STATE
                        if state not in FINAL_JOB_STATES)


def can_move(from_state, to_state):
    """True when a job in ``from_state`` may go to ``to_state``."""
    return to_state in JOB_TRANSITIONS.get(from_state, ())


def command_on_entering(from_state, to_state):
    """The command a move from ``from_state`` (None for a new job) to ``to_state`` writes,
    or None. A move between two states of one command writes nothing: the command that
    led to the first (pending: submit) is the one being carried out (staging)."""
    command = COMMAND_FOR_STATE.get(to_state)
    return None if command == COMMAND_FOR_STATE.get(from_state) else command


def acts_on(command, job_state):
    """True when the worker should carry ``command`` out for a job in ``job_state``."""
    return COMMAND_FOR_STATE.get(job_state) == command
