"""A job's state machine: every change of state goes through ``transition``, which checks
it against the contract's transitions, records the event and writes the command the new
state calls for, inside the caller's transaction; and logs it, for the log server's
records of the job (raycrafter_contract.job_logging)."""
import logging

from raycrafter_contract import job_logging
from raycrafter_contract.states import (FINAL_JOB_STATES, JOB_STATES, can_move,
                                        command_on_entering)

from .. import timeutil
from ..auth import revoke_agent_tokens
from ..database.models import Event, Frame, Job
from ..notify import messages
from ..outbox import commands
from ..problems import bad_field, conflict

log = logging.getLogger(__name__)


def transition(job, to, actor, reason=None, **changes):
    """Move ``job`` to ``to`` inside the caller's transaction, or raise Conflict.

    The update is conditional on the state the caller read, so two concurrent changes
    cannot both succeed. Writes the event and the command the new state calls for; a
    final state revokes the job's agent tokens, hands back the frames they held and writes
    the word of the job's end for its webhook and e-mail address.
    """
    if not transition_unless_moved(job, to, actor, reason, **changes):
        current = Job.get_by_id(job.id).state
        raise conflict("illegal_transition",
                       f"the job changed state concurrently (now {current})",
                       {"from": current, "to": to})
    return job


def transition_unless_moved(job, to, actor, reason=None, **changes):
    """Like ``transition``, but answer False (changing nothing) when another request moved
    the job out of the state the caller read: e.g. many agents claiming the first frames."""
    check_transition(job, to)
    now = timeutil.now()
    if to == "failed":
        changes["error"] = reason
    updated = (Job.update(state=to, updated_at=now, state_changed_at=now, **changes)
               .where(Job.id == job.id, Job.state == job.state).execute())
    if not updated:
        return False
    Event.create(job=job.id, at=now, actor=actor, from_state=job.state, to_state=to,
                 reason=reason)
    from_state = job.state
    with job_logging.about_job(job.id):
        log.info("job %s: %s -> %s by %s%s", job.id, from_state, to, actor,
                 f" ({reason})" if reason else "")
    job.state, job.updated_at, job.state_changed_at = to, now, now
    for key, value in changes.items():
        setattr(job, key, value)
    if to in FINAL_JOB_STATES:
        # Its agents are done with it: their tokens go, and the frames they held come back.
        revoke_agent_tokens(job.id)
        release_leases(job, actor, f"the job is {to}")
        messages.write_for_end(job)
    command = command_on_entering(from_state, to)
    if command:
        commands.write_command(job, command)
    return True


def release_leases(job, actor, reason):
    """Hand back every leased frame of ``job`` without counting an attempt: its agents
    were not at fault (their batch job ended, or the job did)."""
    now = timeutil.now()
    leased = [f.number for f in Frame.select(Frame.number)
              .where(Frame.job == job.id, Frame.state == "leased")]
    (Frame.update(state="pending", lease_id=None, lease_holder=None, lease_expires_at=None,
                  updated_at=now)
     .where(Frame.job == job.id, Frame.state == "leased").execute())
    for number in leased:
        Event.create(job=job.id, frame=number, at=now, actor=actor, from_state="leased",
                     to_state="pending", reason=reason)


def check_transition(job, to):
    if not can_move(job.state, to):
        raise conflict("illegal_transition", f"a job in state {job.state} cannot go to {to}",
                       {"from": job.state, "to": to})


def fail(job, actor, reason):
    """Fail an active job (no-op if it is already final) inside the caller's transaction."""
    if job.state not in FINAL_JOB_STATES:
        transition(job, "failed", actor, reason)


def check_state_name(field, state):
    if state not in JOB_STATES:
        raise bad_field(field, f"unknown state (one of {', '.join(JOB_STATES)})")
    return state
