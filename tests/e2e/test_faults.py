"""Fault tier: while a 60-frame job runs, every moving part of the appliance is killed with
SIGKILL and restarted in turn; the job still ends done, every frame exactly once, and
Slurm's records show no batch job submitted twice."""
import collections
import os
import signal

import pytest
import requests

from conftest import EXAMPLES, FINAL_STATES, job_states
from support import appliance_services as services
from support.cluster_records import completion_records, queued_batch_jobs
from support.polling import wait_for

pytestmark = pytest.mark.e2e

FRAMES = 60


def kill_node_agent(job_id):
    """SIGKILL the job's node agent; its batch job ends and the worker must resubmit."""
    pids = [pid for pid in services.pids_matching("raycrafter-nodeagent", "--job-id", f" {job_id} ")
            if pid not in services.pids_matching("srun")]
    assert len(pids) == 1, f"expected one node agent of job {job_id}, found {pids}"
    os.kill(pids[0], signal.SIGKILL)


def progressed(now, before):
    """Two more frames rendered (or the job over) since ``before``; None while the API is down."""
    return now is not None and (now[0] >= before + 2 or now[1] in FINAL_STATES)


FAULTS = [
    ("api", lambda job_id: services.kill_supervised("raycrafter-api:*")),
    ("worker", lambda job_id: services.kill_supervised("raycrafter-worker:*")),
    ("node agent", kill_node_agent),
    ("rabbitmq", lambda job_id: services.kill_rabbitmq()),
    ("postgresql", lambda job_id: services.kill_postgresql()),
]


def test_a_job_survives_every_component_killed_and_restarted_in_turn(researcher, tmp_path):
    job_id = researcher.submit(EXAMPLES / "orbit", "--frames", f"1-{FRAMES}",
                               "--width", 800, "--height", 600, "--name", "e2e faults")
    researcher.wait_until(job_id, lambda job: job["state"] == "running", timeout=300,
                          message="the job to run")

    def done_frames():
        try:
            job = researcher.job(job_id)
        except requests.RequestException:
            return None          # the API or its database is down right now
        return job["progress"]["done"], job["state"]

    for name, kill in FAULTS:
        before, state = wait_for(done_frames, timeout=120, interval=1,
                                 message="the API to answer")
        assert state not in FINAL_STATES, f"the job was already {state} before killing the {name}"
        kill(job_id)
        # Recovered means the job makes progress again: two more frames rendered.
        wait_for(lambda: progressed(done_frames(), before), timeout=300, interval=1,
                 message=f"progress after killing the {name}")

    researcher.wait_until(job_id, lambda job: job["state"] in FINAL_STATES, timeout=900,
                          message="the job to finish")
    job = researcher.job(job_id)
    assert job["state"] == "done", job

    frames = researcher.frames(job_id)
    assert sorted(f["number"] for f in frames) == list(range(1, FRAMES + 1))
    assert all(f["state"] == "done" for f in frames)
    events = researcher.events(job_id)
    done_counts = collections.Counter(e["frame"] for e in events
                                      if e["frame"] is not None and e["to"] == "done")
    assert done_counts == {number: 1 for number in range(1, FRAMES + 1)}

    download = researcher.cli("download", job_id, tmp_path / "frames")
    assert download.returncode == 0, download.stderr
    assert len(list((tmp_path / "frames").rglob("*.png"))) == FRAMES

    # Slurm's records: one batch job per recorded submission, no name used twice, none left.
    submissions = job_states(events).count("submitted")
    assert submissions >= 2, "killing the node agent ends its batch job, so one resubmission"
    wait_for(lambda: len(completion_records(job_id)) == submissions, timeout=60, interval=1,
             message="Slurm's completion records of every batch job")
    names = [record["Name"] for record in completion_records(job_id)]
    assert len(set(names)) == len(names) == submissions, names
    assert not queued_batch_jobs(job_id)
