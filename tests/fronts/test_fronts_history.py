"""Jobs only Slurm's accounting remembers, as the fronts read them from `sacct --json`:
checked on what Slurm 22.05 printed at a real site (captures/real/slurm-batcheuphoria-*),
the release the stand-in runs."""
import json
import sys

import pytest

from fronts_harness import SOURCE
from real_listings import REAL

sys.path.insert(0, str(SOURCE))
from standin_fronts import pbspro, slurm, torque  # noqa: E402  (found through SOURCE)


def accounted(name):
    records = json.loads((REAL / f"slurm-batcheuphoria-sacct-json-{name}.json").read_text())
    return [slurm.from_sacct(record) for record in records["jobs"]]


def test_a_job_killed_at_its_walltime_reads_as_each_systems_walltime_kill():
    requeued, timed_out = accounted("requeued-then-timeout")
    assert (requeued.job_id, requeued.state) == (timed_out.job_id, "REQUEUED")
    assert (timed_out.state, timed_out.ran, timed_out.exit_signal) == ("TIMEOUT", True, 15)
    assert (timed_out.start_time, timed_out.end_time) == (1687355570, 1687356482)
    assert [node.node for node in timed_out.allocation] == ["compute015"]
    assert (pbspro.exit_status(timed_out), pbspro.substate(timed_out)) == (-29, 93)
    assert pbspro.comment(timed_out, "login").endswith(
        "on (compute015:ncpus=8) and exceeded resource walltime")
    assert torque.exit_status(timed_out) == -11


def test_a_job_cancelled_before_it_started_never_ran():
    [cancelled] = accounted("cancelled-before-start")
    assert (cancelled.state, cancelled.ran, cancelled.allocation) == ("CANCELLED", False, ())
    assert pbspro.exit_status(cancelled) is None and pbspro.comment(cancelled, "login") is None
    assert pbspro.substate(cancelled) == 91
    assert torque.exit_status(cancelled) == 271


@pytest.mark.parametrize("name", ["requeued-then-timeout", "cancelled-before-start"])
def test_every_accounted_job_renders_in_both_dialects(name):
    ended = [job for job in accounted(name) if job.ended]
    assert ended
    for job in ended:
        for dialect, letter in ((pbspro, "F"), (torque, "C")):
            attributes = dict(dialect.attributes(job, "server", "login", {}, job.end_time))
            assert (attributes["Job_Name"], attributes["job_state"]) == (job.name, letter)
