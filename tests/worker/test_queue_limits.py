"""A cluster that may hold only so many of our batch jobs (a profile's ``max_queued_jobs``,
or the scheduler's own per-user limit): jobs wait their turn in ``staging``, users share
the places, several workers together never go over the limit, and a refusal at the
scheduler's limit never fails a job.

Against the cluster role's Slurm. The scheduler's own limit is played by an sbatch in the
profile's ``scheduler_bin_dir`` that refuses with Slurm's words for a QOS's
MaxSubmitJobsPerUser (captures/real/slurm-firecrest-sbatch-qos-submit-limit.json) while
the test's batch jobs are as many as its limit; Slurm's own QOS limits need slurmdbd.
"""
import shlex
import threading

import pytest
import requests

from raycrafter_worker.errors import QueueLimitReached, TransientError
from raycrafter_worker.queue_lock import QueueLock
from support.api_server import create_user
from support.cluster_records import JOB_COMPLETION_LOG
from support.polling import wait_for
from test_cluster_live import attempt_name, job_files, submit
from test_worker_flow import (CLUSTER, api, broker, create_job, start_worker,  # noqa: F401
                              worker_view)
from support.worker_harness import publish

def our_active(cluster):
    return sorted(job.name for job in cluster.batch_jobs()
                  if job.active and cluster.profile.is_our_batch_name(job.name))


@pytest.mark.parametrize("scheduler, commands", [
    ("slurm", ""), ("pbspro", "/opt/raycrafter/fronts/pbspro/bin")])
def test_workers_together_never_hold_more_than_the_limit(make_cluster, fake_agent,
                                                         scheduler, commands):
    """Three workers (each its own SSH connection, as three processes have) submit two
    jobs each at the same moment onto a cluster that may hold two: two are submitted, the
    four others learn there is no place, and none is submitted behind the lock's back.
    Also through the stand-in's PBS Professional front, whose queue is listed by qstat."""
    fake_agent(120)
    clusters = [make_cluster(max_queued_jobs=2, scheduler=scheduler,
                             scheduler_bin_dir=commands) for _ in range(3)]
    files = {job_id: job_files(clusters[0], job_id) for job_id in range(21, 27)}
    outcomes = {}

    def submit_as(cluster, job_id):
        try:
            outcomes[job_id] = submit(cluster, job_id, files[job_id], "limited")
        except QueueLimitReached as limit:
            outcomes[job_id] = limit
    threads = [threading.Thread(target=submit_as, args=(clusters[n % 3], job_id))
               for n, job_id in enumerate(files)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    submitted = {job_id for job_id, outcome in outcomes.items() if isinstance(outcome, str)}
    assert len(outcomes) == 6 and len(submitted) == 2
    assert all("max_queued_jobs = 2" in str(outcomes[job_id])
               for job_id in set(outcomes) - submitted)
    assert our_active(clusters[0]) == sorted(
        attempt_name(clusters[0], job_id, files[job_id]) for job_id in submitted)
    # Refused before any marker was made: the attempt submits normally once a place frees.
    waiting = min(set(outcomes) - submitted)
    assert clusters[0].submission_outcome(files[waiting], "x") == ("absent", None)


def test_a_stale_queue_lock_is_broken_and_a_held_one_is_waited_for(make_cluster, fake_agent,
                                                                   login):
    cluster = make_cluster(max_queued_jobs=3, command_timeout_seconds=4)
    files = job_files(cluster, 31)
    lock = QueueLock(cluster.profile, "someone-else")
    # A holder that died long ago left its lock: the next submission breaks it.
    login(f"mkdir {shlex.quote(lock.path)} && echo someone-else > {lock.path}/owner && "
          f"touch -d '-{lock.lease_seconds + 60} seconds' {lock.path}")
    assert submit(cluster, 31, files, "after a stale lock").isdigit()
    assert login(f"test -e {lock.path}", check=False).returncode != 0  # released after
    # A holder that is submitting now is waited for, then the submission is retried later.
    login(f"mkdir {shlex.quote(lock.path)} && echo someone-else > {lock.path}/owner")
    with pytest.raises(TransientError, match="held the queue lock"):
        submit(cluster, 32, job_files(cluster, 32), "behind a held lock")
    login(f"rm -rf {lock.path}")


def submission_order(prefix):
    """(name, submit time, end time) of this test's batch jobs, in the order submitted."""
    records = []
    for line in JOB_COMPLETION_LOG.read_text().splitlines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        if fields.get("Name", "").startswith(prefix):
            records.append((fields["Name"][len(prefix):], fields["SubmitTime"],
                            fields["EndTime"]))
    return sorted(records, key=lambda record: record[1])


def submitted_one_at_a_time(api, broker, job_ids, prefix):
    """Send the jobs' submit commands; once each has failed for its batch job, the names of
    their batch jobs in the order Slurm took them, after checking that none was submitted
    while another was in the queue."""
    for job_id in job_ids:
        publish(broker.admin_url, "submit", job_id, CLUSTER)
    wait_for(lambda: failed_for_their_batch_jobs(api, job_ids), timeout=120, interval=1,
             message="every job submitted and failed for its batch job")
    wait_for(lambda: len(submission_order(prefix)) == len(job_ids), timeout=60,
             message="Slurm's completion record of each batch job")
    order = submission_order(prefix)
    for (_, _, ended), (name, submitted, _) in zip(order, order[1:]):
        assert submitted >= ended, f"{name} was submitted while another was in the queue"
    return [name for name, _, _ in order]


def failed_for_their_batch_jobs(api, job_ids):
    """Every job failed, each for the end of its one batch job (the API is asked to
    submit a job once: without its relay, nothing would send it again)."""
    jobs = [worker_view(api, job_id) for job_id in job_ids]
    if not all(job["state"] == "failed" for job in jobs):
        return False
    assert all("the batch job ended 1 times" in job["error"] for job in jobs), jobs
    return True


@pytest.mark.parametrize("api", [1], indirect=True)
def test_jobs_beyond_the_limit_wait_their_turn_and_users_share_the_place(
        api, broker, start_worker, fake_agent, batch_prefix):
    """One place; alice sends three jobs, then bob one. Each batch job ends without a
    frame (the stand-in agent renders nothing), so each job fails for that, never for the
    limit, one batch job after the other. Bob's job goes second: it waits for one place,
    not for alice's three jobs."""
    worker = start_worker(max_queued_jobs=1)
    fake_agent(3)
    bob = requests.Session()
    bob.headers["Authorization"] = f"Bearer {create_user(api.config, 'bob')}"
    jobs = [create_job(api, name=f"alice {n}", frames="1") for n in range(3)]
    api_user, api.user = api.user, bob
    try:
        jobs.append(create_job(api, name="bob", frames="1"))
    finally:
        api.user = api_user
    ids = [job["id"] for job in jobs]
    assert submitted_one_at_a_time(api, broker, ids, batch_prefix) == [
        f"rc-{job_id}-a1" for job_id in (ids[0], ids[3], ids[1], ids[2])]
    assert "waits for its turn on cluster" in worker.log()


LIMITING_SBATCH = """#!/bin/sh
# Slurm's per-user submit limit (a QOS's MaxSubmitJobsPerUser) as sbatch reports it, for
# this test's batch jobs. Slurm checks its limit under its own lock: so does this wrapper
# (held until sbatch has queued the job), or two submissions at once would both pass.
exec 9>"$(dirname "$0")/sbatch.lock"
flock 9
active=$(/usr/bin/squeue --noheader --me --format=%j | grep -c '^PREFIX')
if [ "$active" -ge LIMIT ]; then
    echo "sbatch: error: QOSMaxSubmitJobPerUserLimit" >&2
    echo "sbatch: error: Batch job submission failed: Job violates accounting/QOS policy (job submit limit, user's size and/or time limits)" >&2
    exit 1
fi
exec /usr/bin/sbatch "$@"
"""


@pytest.mark.parametrize("api", [1], indirect=True)
@pytest.mark.parametrize("max_queued_jobs", [0, 2])
def test_a_refusal_at_the_schedulers_own_limit_waits_and_is_tried_again(
        api, broker, start_worker, fake_agent, login, batch_prefix, test_scratch,
        max_queued_jobs):
    """The scheduler allows one batch job; the profile sets no limit, or one above the
    scheduler's. Every refused submission waits and is tried again: three jobs are each
    submitted, one batch job at a time, and fail only for their batch jobs."""
    bin_dir = f"{test_scratch}/limitbin"
    sbatch = LIMITING_SBATCH.replace("PREFIX", batch_prefix).replace("LIMIT", "1")
    login(f"mkdir -p {bin_dir} && cat > {bin_dir}/sbatch <<'SBATCH'\n{sbatch}SBATCH\n"
          f"chmod 0755 {bin_dir}/sbatch && for c in squeue scancel sacct; do "
          f"ln -s /usr/bin/$c {bin_dir}/$c; done")
    worker = start_worker(scheduler_bin_dir=bin_dir, max_queued_jobs=max_queued_jobs)
    fake_agent(3)
    ids = [create_job(api, name=f"refused {n}", frames="1")["id"] for n in range(3)]
    assert sorted(submitted_one_at_a_time(api, broker, ids, batch_prefix)) == [
        f"rc-{job_id}-a1" for job_id in ids]
    assert "QOSMaxSubmitJobPerUserLimit" in worker.log()
    assert "waits for its turn on cluster" in worker.log()
    # A job tried again is not staged in again.
    assert "its scene is on stand-in already" in worker.log()
