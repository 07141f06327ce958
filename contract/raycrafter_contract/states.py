"""The states of a job and of its frames, and the ways a job may move between them.

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


def can_move(from_state, to_state):
    """True when a job in ``from_state`` may go to ``to_state``."""
    return to_state in JOB_TRANSITIONS.get(from_state, ())
