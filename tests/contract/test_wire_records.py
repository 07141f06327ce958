"""The wire records: what crosses the HTTP seams, read and written in one place, so a
missing or mistyped field is one clear error naming the record and the field."""
import json

import pytest

from raycrafter_contract.animation import Animation
from raycrafter_contract.wire.agent_calls import (AgentJob, ClaimEnded, ClaimLeased, ClaimWait,
                                                  CompleteReport, LeaseTerms,
                                                  parse_claim_answer)
from raycrafter_contract.wire import json_text
from raycrafter_contract.wire.errors import ErrorBody
from raycrafter_contract.wire.jobs import FrameSpan, WorkerJobView
from raycrafter_contract.wire.records import WireError
from raycrafter_contract.wire.worker_calls import (BatchEndedReport, TransitionReport,
                                                   UncollectedFrames)

LEASED = {"status": "leased", "frame": 3, "frames": [3, 4], "attempt": 1,
          "lease": {"id": "l-1", "expires_at": "2026-11-22T10:00:00Z", "seconds": 300},
          "job": {"id": 7, "width": 320, "height": 240,
                  "frames": {"first": 1, "last": 24, "step": 1},
                  "animation": {"initial_frame": 1, "final_frame": 24, "initial_clock": 0,
                                "final_clock": 1.0, "cyclic": False},
                  "renderer": "povray", "options": {"quality": 9}, "scene_file": "a.pov"},
          "protocol": 2}
WORKER_JOB = {"id": 7, "name": "orbit", "owner": "alice", "state": "running", "error": None,
              "frames": {"first": 1, "last": 24, "step": 1, "count": 24},
              "animation": {"initial_frame": 1, "final_frame": 24, "initial_clock": 0.0,
                            "final_clock": 1.0, "cyclic": False},
              "progress": {"pending": 20, "leased": 2, "done": 2, "failed": 0},
              "width": 320, "height": 240, "renderer": "povray", "options": {},
              "cluster": "default",
              "scene": {"kind": "pov", "size": 12, "checksum": "ab" * 32},
              "created_at": "2026-11-22T10:00:00Z", "updated_at": "2026-11-22T10:01:00Z",
              "submit_attempt": 1, "batch_name": "rc-7-a1", "batch_job_id": "4242",
              "scene_file": "scene.pov", "state_changed_at": "2026-11-22T10:01:00Z"}


def test_a_claim_answer_reads_into_its_record_and_back():
    answer = parse_claim_answer(LEASED)
    assert answer == ClaimLeased(
        frame=3, attempt=1, frames=(3, 4),
        lease=LeaseTerms("l-1", "2026-11-22T10:00:00Z", 300),
        job=AgentJob(id=7, width=320, height=240, frames=FrameSpan(1, 24, 1),
                     animation=Animation(1, 24, 0.0, 1.0, False), renderer="povray",
                     options={"quality": 9}, scene_file="a.pov"), protocol=2)
    assert isinstance(answer.job.animation.initial_clock, float)  # JSON 0 is a number
    assert answer.to_json() == dict(LEASED, job=dict(LEASED["job"], animation=dict(
        LEASED["job"]["animation"], initial_clock=0.0)))
    assert json.loads(json.dumps(answer.to_json())) == answer.to_json()


@pytest.mark.parametrize("document, record", [
    ({"status": "wait", "retry_after": 5}, ClaimWait(5)),
    ({"status": "finished"}, ClaimEnded("finished")),
    ({"status": "cancelled"}, ClaimEnded("cancelled")),
])
def test_every_other_claim_answer(document, record):
    assert parse_claim_answer(document) == record
    assert record.to_json() == document


def test_an_older_apis_answer_gets_the_defaults_it_implies():
    """Before chunks one frame came alone; before animations, renderers and INI files the
    job said only what to render; before reports of several frames a lease named no agent
    protocol."""
    older = dict(LEASED, job={"id": 7, "width": 320, "height": 240,
                              "frames": {"first": 1, "last": 24, "step": 1}})
    del older["frames"], older["protocol"]
    answer = parse_claim_answer(older)
    assert answer.frames == (3,) and answer.protocol == 1
    assert (answer.job.animation, answer.job.renderer, answer.job.options,
            answer.job.scene_file) == (None, "povray", {}, "scene.pov")


def test_a_newer_senders_fields_are_ignored():
    assert parse_claim_answer(dict(LEASED, priority=3)) == parse_claim_answer(LEASED)


@pytest.mark.parametrize("change, message", [
    ({"lease": {"id": "l-1", "expires_at": "t"}}, r"ClaimLeased\.lease\.seconds is missing"),
    ({"lease": {"id": "l-1", "expires_at": "t", "seconds": "300"}},
     r"ClaimLeased\.lease\.seconds must be an integer, not '300'"),
    ({"attempt": True}, r"ClaimLeased\.attempt must be an integer, not True"),
    ({"attempt": 1.5}, r"ClaimLeased\.attempt must be an integer, not 1\.5"),
    ({"frames": [4, 5]}, r"ClaimLeased: the chunk \[4, 5\] does not start with frame 3"),
    ({"frames": [3, "4"]}, r"ClaimLeased\.frames\[1\] must be an integer"),
    ({"job": None}, r"ClaimLeased\.job must be an object, not None"),
    ({"status": "paused"}, r"status must be one of leased, wait, finished, cancelled"),
])
def test_a_missing_or_mistyped_field_is_one_error_naming_it(change, message):
    with pytest.raises(WireError, match=message):
        parse_claim_answer(dict(LEASED, **change))


def test_a_claim_answer_that_is_no_object_is_refused():
    with pytest.raises(WireError, match="status must be one of"):
        parse_claim_answer(["leased"])


def test_the_worker_job_view_and_its_checks():
    job = WorkerJobView.from_json(WORKER_JOB)
    assert (job.state, job.submit_attempt, job.batch_name, job.frames.count) == (
        "running", 1, "rc-7-a1", 24)
    assert job.to_json() == WORKER_JOB
    # An API from before it said when the job entered its state.
    older = {k: v for k, v in WORKER_JOB.items() if k != "state_changed_at"}
    assert WorkerJobView.from_json(older).state_changed_at is None
    with pytest.raises(WireError, match=r"WorkerJobView\.state must be 'pending' or "):
        WorkerJobView.from_json(dict(WORKER_JOB, state="paused"))
    with pytest.raises(WireError, match=r"WorkerJobView\.batch_job_id is missing"):
        WorkerJobView.from_json({k: v for k, v in WORKER_JOB.items() if k != "batch_job_id"})
    with pytest.raises(WireError, match=r"WorkerJobView\.progress\.done must be an integer"):
        WorkerJobView.from_json(dict(WORKER_JOB, progress={"done": None}))


def test_optional_report_fields_are_left_out_while_unset():
    assert TransitionReport("staging").to_json() == {"to": "staging"}
    assert TransitionReport("submitted", batch_job_id="42", attempt=2).to_json() == {
        "to": "submitted", "batch_job_id": "42", "attempt": 2}
    # An exit status the poll could not learn is said to be unknown: null.
    assert BatchEndedReport(1).to_json() == {"attempt": 1, "exit_status": None}
    assert CompleteReport("l", 1.5, "ab" * 32, 10).to_json() == {
        "lease_id": "l", "render_seconds": 1.5, "checksum": "ab" * 32, "size": 10}


def test_nullable_fields_and_the_error_body():
    assert ErrorBody.from_json({"error": "stale_lease", "message": "gone", "details": None}) \
        == ErrorBody("stale_lease", "gone", None)
    with pytest.raises(WireError, match=r"ErrorBody\.details is missing"):
        ErrorBody.from_json({"error": "x", "message": "y"})
    frames = UncollectedFrames.from_json({"frames": [{"number": 1, "checksum": None,
                                                      "size": None}], "total": 1})
    assert frames.frames[0].checksum is None


@pytest.mark.parametrize("text, field, spelling", [
    ('{"render_seconds": NaN}', "render_seconds", "NaN"),
    ('{"render_seconds": Infinity}', "render_seconds", "Infinity"),
    ('{"a": [0, {"b": -Infinity}]}', "a[1].b", "-Infinity"),
    # Standard JSON, but no float holds it: Python's json makes it infinity.
    ('{"size": 1e999}', "size", "1e999"),
    ("NaN", "body", "NaN"),
])
def test_json_text_refuses_every_number_that_is_not_finite_naming_its_field(text, field,
                                                                           spelling):
    with pytest.raises(json_text.NonFiniteNumber) as refused:
        json_text.loads(text)
    assert (refused.value.field, refused.value.problem) == (
        field, f"must be a finite number, not {spelling}")
    assert isinstance(refused.value, WireError)


def test_json_text_reads_everything_else_as_json_does():
    text = '{"a": [1, 2.5, -0.0, 1e300, null, true, "NaN"], "b": {"c": 12345678901234567890}}'
    assert json_text.loads(text) == json.loads(text)
    with pytest.raises(ValueError):
        json_text.loads("{not json")


def test_a_record_refuses_a_float_field_that_is_not_finite():
    with pytest.raises(WireError, match=r"CompleteReport\.render_seconds must be a finite "
                                        r"number, not nan"):
        CompleteReport.from_json({"lease_id": "l", "render_seconds": float("nan"),
                                  "checksum": "ab" * 32, "size": 10})


def test_a_report_of_several_frames_reads_into_its_record_and_back():
    from raycrafter_contract.wire.agent_calls import (FrameDone, FrameFailed, FrameOutcome,
                                                      LeaseReports, LeaseReportsAnswer)
    document = {"lease_id": "l-1",
                "done": [{"frame": 3, "render_seconds": 1, "checksum": "0" * 64, "size": 9}],
                "failed": [{"frame": 4, "reason": "Parse Error", "log_tail": "line 4"}],
                "released": [5, 6]}
    report = LeaseReports.from_json(document)
    assert report == LeaseReports("l-1", (FrameDone(3, 1.0, "0" * 64, 9),),
                                  (FrameFailed(4, "Parse Error", "line 4"),), (5, 6))
    assert report.to_json() == dict(document, done=[dict(document["done"][0],
                                                         render_seconds=1.0)])
    assert LeaseReports.from_json({"lease_id": "l-1", "released": [5]}).done == ()
    with pytest.raises(WireError, match=r"LeaseReports\.done\[0\]\.checksum is missing"):
        LeaseReports.from_json({"lease_id": "l-1", "done": [{"frame": 3, "render_seconds": 1,
                                                             "size": 9}]})
    answer = LeaseReportsAnswer.from_json({"frames": [
        {"frame": 3, "frame_state": "done", "refused": None},
        {"frame": 4, "refused": {"error": "stale_lease", "message": "m", "details": None}}]})
    assert answer.frames == (FrameOutcome(3, "done"),
                             FrameOutcome(4, refused=ErrorBody("stale_lease", "m", None)))
