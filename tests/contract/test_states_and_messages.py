"""Job states and command messages: what the API writes, the worker reads."""
import pytest

from raycrafter_contract import messaging, states


def test_final_states_have_no_way_out_and_every_other_state_can_fail_or_be_cancelled():
    for state in states.JOB_STATES:
        if state in states.FINAL_JOB_STATES:
            assert state not in states.JOB_TRANSITIONS
        else:
            assert {"failed", "cancelled"} <= states.JOB_TRANSITIONS[state]
    every_target = set().union(*states.JOB_TRANSITIONS.values())
    assert every_target <= set(states.JOB_STATES)
    assert states.can_move("running", "staging") and not states.can_move("done", "failed")


def test_each_state_change_writes_the_command_the_new_state_calls_for():
    """The one table of which change sends which command (docs/protocol.md)."""
    writes = {(None, "pending"): "submit",
              ("running", "staging"): "submit", ("submitted", "staging"): "submit",
              ("running", "collecting"): "collect", ("submitted", "collecting"): "collect"}
    for state in set(states.JOB_TRANSITIONS) - set(states.FINAL_JOB_STATES):
        writes[(state, "failed")] = writes[(state, "cancelled")] = "cancel"
    moves = [(None, "pending")] + [(a, b) for a, targets in states.JOB_TRANSITIONS.items()
                                   for b in targets]
    assert {move: states.command_on_entering(*move) for move in moves} == {
        move: writes.get(move) for move in moves}
    assert set(states.COMMAND_FOR_STATE.values()) == set(messaging.COMMANDS)


def test_the_worker_acts_on_a_command_only_in_the_states_that_call_for_it():
    acting = {command: [s for s in states.JOB_STATES if states.acts_on(command, s)]
              for command in messaging.COMMANDS}
    assert acting == {"submit": ["pending", "staging"], "collect": ["collecting"],
                      "cancel": ["failed", "cancelled"]}
    # The reconciler re-sends the commands of the states that wait for the worker.
    assert states.AWAITING_WORKER == ("pending", "staging", "collecting")


def test_a_command_body_reads_back_as_it_was_written():
    body = messaging.command_body("c-1", "submit", 42, "archer", "2026-01-01T00:00:00Z")
    assert messaging.parse_command(body) == {"id": "c-1", "command": "submit", "job_id": 42,
                                             "cluster": "archer",
                                             "created_at": "2026-01-01T00:00:00Z"}
    with pytest.raises(ValueError):
        messaging.command_body("c-2", "explode", 1, "archer", "")


@pytest.mark.parametrize("body", [b"", b"\xff\xfe", b"[]", b'{"command": "submit"}',
                                  b'{"command": "submit", "job_id": "7"}',
                                  b'{"command": "submit", "job_id": true}',
                                  b'{"command": "rm -rf", "job_id": 7}'])
def test_a_message_no_handler_can_act_on_is_refused(body):
    with pytest.raises(ValueError):
        messaging.parse_command(body)
