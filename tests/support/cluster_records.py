"""What the stand-in cluster's Slurm knows about the appliance's batch jobs.

The worker names every batch job ``rc-JOB-aATTEMPT`` (docs/worker.md, "Never submit
twice"); these helpers read the queue and the job completion records
(jobcomp/filetxt, the stand-in's accounting) by that name.
"""
import collections
import pathlib
import subprocess

from raycrafter_contract import naming
from support.polling import wait_for

JOB_COMPLETION_LOG = pathlib.Path("/var/log/slurm/jobcomp.log")


def batch_name_pattern(job_id):
    # The appliance's own profile has no batch prefix. The worker tier's batch jobs carry a
    # prefix of their own (wtest-...-rc-3-a1) and stay in the same completion log, so a
    # looser pattern would count them as this appliance's jobs of the same number.
    return naming.batch_name_pattern(job_id)


def queued_batch_jobs(job_id):
    """(slurm id, name, state) of the job's batch jobs still in the queue and not ended."""
    listing = subprocess.run(
        ["squeue", "--noheader", "--states=PENDING,RUNNING,CONFIGURING,COMPLETING,SUSPENDED",
         "--format=%i|%j|%T"], capture_output=True, text=True, check=True).stdout
    pattern = batch_name_pattern(job_id)
    rows = [line.split("|") for line in listing.splitlines() if line.strip()]
    return [tuple(row) for row in rows if pattern.match(row[1])]


def completion_records(job_id):
    """Every job completion record of the job's batch jobs: a dict of the line's fields."""
    if not JOB_COMPLETION_LOG.exists():
        return []
    return completion_records_in(JOB_COMPLETION_LOG.read_text(), job_id)


def logged_completion_records(job_id, count=1, timeout=60):
    """The job's completion records once there are ``count``: a job is done once its frames
    are in, and Slurm writes its batch job's record a moment later."""
    wait_for(lambda: len(completion_records(job_id)) >= count, timeout=timeout, interval=0.5,
             message=f"Slurm's completion record of job {job_id}'s batch jobs")
    return completion_records(job_id)


def completion_records_in(log_text, job_id):
    """The records of the job's batch jobs in a completion log's text (of another host's)."""
    pattern = batch_name_pattern(job_id)
    records = []
    for line in log_text.splitlines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        if pattern.match(fields.get("Name", "")):
            records.append(fields)
    return records


def completion_names(prefix):
    """Counter of the batch job names with this prefix (a test's own) in the job
    completion log: how often each attempt reached Slurm."""
    names = collections.Counter()
    if JOB_COMPLETION_LOG.exists():
        for line in JOB_COMPLETION_LOG.read_text().splitlines():
            fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
            if fields.get("Name", "").startswith(prefix):
                names[fields["Name"]] += 1
    return names


def logged_completion_names(prefix, count, timeout=60):
    """completion_names once there are ``count`` records (see logged_completion_records)."""
    wait_for(lambda: sum(completion_names(prefix).values()) >= count, timeout=timeout,
             interval=0.5, message="Slurm's completion record of each batch job")
    return completion_names(prefix)
