"""Slurm: sbatch --parsable, squeue for every job of the user in one call, sacct, scancel.

squeue lists a job for MinJobAge (300 s by default) after it ended; sacct, where the site
runs accounting (slurmdbd), says why it ended long after: TIMEOUT, NODE_FAIL, CANCELLED
by a uid, OUT_OF_MEMORY, FAILED with the script's exit code. Without accounting sacct
answers "Slurm accounting storage is disabled" and the batch script's exit file is the
evidence.
"""
from ..command_failures import check
from .base import ENDED, QUEUED, RUNNING, BatchJob, Scheduler, signal_name

# squeue --states=all also lists jobs that ended within MinJobAge; all others are queued.
_RUNNING = {"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "SUSPENDED", "STOPPED",
            "RESIZING"}
# How each final state reads to the person whose job it was, completing "the batch ...".
ENDINGS = {
    "COMPLETED": "job completed",
    "FAILED": "script failed",
    "CANCELLED": "job was cancelled",
    "TIMEOUT": "job ran out of its walltime",
    "NODE_FAIL": "job lost a node that failed",
    "PREEMPTED": "job was preempted by a job of higher priority",
    "OUT_OF_MEMORY": "job ran out of memory",
    "BOOT_FAIL": "job's nodes failed to boot",
    "DEADLINE": "job missed its deadline",
    "REVOKED": "job was revoked: it runs on another cluster of the federation",
    "SPECIAL_EXIT": "job ended in a state its site chose",
}
_SEPARATOR = "|"
LISTING_FIELDS = ("JobID", "JobName", "State", "Reason")
ACCOUNTING_FIELDS = ("JobID", "JobName", "State", "ExitCode", "Elapsed", "Timelimit")


def _state_of(raw):
    word = _state_word(raw)
    if word in ENDINGS:
        return ENDED
    if word in _RUNNING:
        return RUNNING
    return QUEUED


def _state_word(raw):
    """``CANCELLED by 1000`` is CANCELLED; squeue may add ``+`` (requeued)."""
    return raw.split()[0].rstrip("+") if raw.strip() else ""


class SlurmScheduler(Scheduler):
    name = "slurm"
    JOB_ID_VARIABLE = "SLURM_JOB_ID"

    def submit_command(self, script, job_name, stdout, stderr):
        p = self.profile
        args = ["--parsable", "-J", job_name, "-o", stdout, "-e", stderr,
                "-t", p.walltime, "-N", str(p.nodes)]
        if p.cores_per_node:
            args += ["--ntasks-per-node=1", f"--cpus-per-task={p.cores_per_node}"]
        if p.queue:
            args += ["-p", p.queue]
        if p.account:
            args += ["-A", p.account]
        return self.command("sbatch", *args, script)

    def parse_submit(self, output):
        """``--parsable`` prints ``ID`` or ``ID;CLUSTER``."""
        first = output.strip().splitlines()[0] if output.strip() else ""
        job_id = first.split(";")[0].strip()
        if not job_id.isdigit():
            raise ValueError(f"sbatch printed no job id: {output.strip()!r}")
        return job_id

    def list_commands(self):
        return [self.command("squeue", "--noheader", "--states=all",
                             f"--user={self.profile.user}", "--format=%i|%j|%T|%r")]

    def parse_list(self, result):
        check(result, f"listing batch jobs on cluster {self.profile.name}")
        return parse_rows(result.stdout, LISTING_FIELDS)

    def accounting_commands(self, job_ids):
        return [self.command("sacct", "--allocations", "--noheader", "--parsable2",
                             "--format=" + ",".join(ACCOUNTING_FIELDS),
                             "--jobs=" + ",".join(job_ids))]

    def parse_accounting(self, result):
        """Nothing when sacct fails: most often the site keeps no accounting."""
        return parse_rows(result.stdout, ACCOUNTING_FIELDS) if result.status == 0 else []

    def cancel_command(self, job_ids):
        return self.command("scancel", *job_ids)


def parse_rows(text, fields):
    """Jobs in squeue or sacct output of the given ``fields`` (``--parsable2`` rows, or
    ``--parsable`` ones with a separator at the end). Step rows (``12.batch``) are left
    out; a job name may hold the separator, the other fields may not."""
    jobs = []
    name_at = fields.index("JobName") if "JobName" in fields else None
    for line in text.splitlines():
        parts = line.rstrip("\n").split(_SEPARATOR)
        if len(parts) == len(fields) + 1 and parts[-1] == "":
            parts = parts[:-1]
        if len(parts) < len(fields) or not parts[0].strip():
            continue
        if name_at is not None and len(parts) > len(fields):
            extra = len(parts) - len(fields)
            parts[name_at:name_at + extra + 1] = [
                _SEPARATOR.join(parts[name_at:name_at + extra + 1])]
        row = dict(zip(fields, parts))
        if "." in row["JobID"]:
            continue
        jobs.append(_job(row))
    return jobs


def _job(row):
    raw = row["State"].strip()
    state = _state_of(raw)
    code, signal_number = _exit_code(row.get("ExitCode", ""))
    return BatchJob(row["JobID"].strip(), row.get("JobName", ""), state, raw, code,
                    ending=_ending(raw, code, signal_number, row.get("Elapsed", ""))
                    if state == ENDED else None)


def _exit_code(text):
    """``N:S`` is the exit code and the signal that ended the batch script."""
    code, _, signal_number = text.strip().partition(":")
    return (int(code) if code.lstrip("-").isdigit() else None,
            int(signal_number) if signal_number.isdigit() else 0)


def _ending(raw, code, signal_number, elapsed):
    """"the batch job ran out of its walltime (TIMEOUT) after 00:10:00"."""
    word = _state_word(raw)
    shown = raw.replace(" by ", " by uid ") if word == "CANCELLED" else raw
    if word == "FAILED" and signal_number:
        shown += f", killed by {signal_name(signal_number)}"
    elif word == "FAILED" and code is not None:
        shown += f", exit code {code}"
    said = f"the batch {ENDINGS[word]} ({shown})"
    elapsed = elapsed.strip()
    if elapsed and elapsed.strip("0:-"):
        said += f" after {elapsed}"
    return said

