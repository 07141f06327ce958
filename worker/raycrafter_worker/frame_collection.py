"""Bringing rendered frames from the cluster's scratch to the API.

Two callers, one way of doing it: the poller, for the frames of running batch jobs that the
agents reported done since its last round, and ``collect``, for whatever is left when the
batch job has ended. Which frames are left is the API's rule (``frames/uncollected``),
never decided here. Each call checksums the frames on the cluster in one command, stages
them out in one transfer, verifies every file, and uploads each with its checksum (the
API compares it with the agent's). An image uploaded twice replaces itself with the same
bytes, so two workers, or a worker killed and started again, cannot do harm.
"""
import logging
import os
import tempfile

from raycrafter_contract import job_logging
from raycrafter_contract.naming import frame_file_name

from .batch_script import JobFiles
from .errors import ApiConflict, PermanentError

log = logging.getLogger(__name__)


def collect(api, cluster, workdir, wanted, during_run):
    """Stage out and upload ``wanted``: (job id, frame as the API lists it) pairs; returns
    how many were uploaded.

    At the end of a job (``during_run`` false) a frame missing from scratch fails the job
    (PermanentError naming it). While the batch job runs, a frame that is not on scratch
    yet as the agent reported it (a shared file system's lag) or whose job moved on is
    left for a later round or for ``collect``, which decides for good."""
    paths = {(job_id, frame.number): _frame_path(cluster, job_id, frame.number)
             for job_id, frame in wanted}
    sums = cluster.checksums(list(paths.values()))
    missing = [key for key, path in paths.items() if sums[path] is None]
    if missing and not during_run:
        raise PermanentError(_missing_message(cluster, missing))
    expected = {(job_id, frame.number): frame.checksum for job_id, frame in wanted}
    ready = [key for key, path in paths.items() if sums[path] is not None
             and (not during_run or sums[path][1] == expected[key])]
    if len(ready) < len(paths):
        log.debug("left for later on %s: %s", cluster.name,
                  sorted(set(paths) - set(ready)))
    if not ready:
        return 0
    uploaded = 0
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        local = {(job_id, n): os.path.join(tmp, f"{job_id}-{frame_file_name(n)}")
                 for job_id, n in ready}
        cluster.download_verified([(paths[key], local[key]) for key in ready], sums)
        for job_id, number in ready:
            try:
                api.upload_frame(job_id, number, local[(job_id, number)],
                                 sums[paths[(job_id, number)]][1])
                uploaded += 1
            except ApiConflict as conflict:
                if not during_run:
                    raise
                with job_logging.about_job(job_id):
                    log.info("job %s: frame %s not uploaded now: %s", job_id, number, conflict)
    return uploaded


def _frame_path(cluster, job_id, number):
    # Frames live in the job's directory whatever the attempt that rendered them.
    return JobFiles(cluster.profile.job_dir(job_id), 0).frame(number)


def _missing_message(cluster, missing):
    by_job = {}
    for job_id, number in missing:
        by_job.setdefault(job_id, []).append(number)
    return "; ".join(f"frame(s) {', '.join(map(str, numbers))} of job {job_id} are missing "
                     f"from {os.path.dirname(_frame_path(cluster, job_id, numbers[0]))} on "
                     f"cluster {cluster.name}" for job_id, numbers in by_job.items())
