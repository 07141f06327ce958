"""Slurm: sbatch --parsable, squeue for every job of the user in one call, sacct, scancel."""
import shlex

from .base import ENDED, QUEUED, RUNNING, BatchJob, Scheduler

# squeue --states=all also lists jobs that ended within MinJobAge; all others are queued.
_RUNNING = {"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "SUSPENDED", "STOPPED",
            "RESIZING"}
_ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED",
          "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY", "SPECIAL_EXIT", "REVOKED"}
_SEPARATOR = "|"


def _state_of(raw):
    word = raw.split()[0].rstrip("+") if raw.strip() else ""
    if word in _ENDED:
        return ENDED
    if word in _RUNNING:
        return RUNNING
    return QUEUED


class SlurmScheduler(Scheduler):
    name = "slurm"
    EMPTY_LISTING_STATUS = None

    def submit_command(self, script, job_name, stdout, stderr):
        p = self.profile
        args = ["sbatch", "--parsable", "-J", job_name, "-o", stdout, "-e", stderr,
                "-t", p.walltime, "-N", str(p.nodes)]
        if p.queue:
            args += ["-p", p.queue]
        if p.account:
            args += ["-A", p.account]
        return shlex.join(args + [script])

    @staticmethod
    def parse_submit(output):
        """``--parsable`` prints ``ID`` or ``ID;CLUSTER``."""
        first = output.strip().splitlines()[0] if output.strip() else ""
        job_id = first.split(";")[0].strip()
        if not job_id.isdigit():
            raise ValueError(f"sbatch printed no job id: {output.strip()!r}")
        return job_id

    def list_command(self):
        return shlex.join(["squeue", "--noheader", "--states=all",
                           f"--user={self.profile.user}", "--format=%i|%j|%T|%r"])

    @staticmethod
    def parse_list(output):
        jobs = []
        for line in output.splitlines():
            parts = line.strip().split(_SEPARATOR)
            if len(parts) < 4:
                continue
            # A job name may itself hold the separator; id, state and reason may not.
            job_id, name, raw = parts[0], _SEPARATOR.join(parts[1:-2]), parts[-2]
            jobs.append(BatchJob(job_id, name, _state_of(raw), raw))
        return jobs

    @staticmethod
    def accounting_command(job_ids):
        return shlex.join(["sacct", "--allocations", "--noheader", "--parsable2",
                           "--format=JobID,JobName,State,ExitCode",
                           "--jobs=" + ",".join(job_ids)])

    @staticmethod
    def parse_accounting(output):
        jobs = []
        for line in output.splitlines():
            parts = line.strip().split(_SEPARATOR)
            if len(parts) < 4:
                continue
            job_id, name, raw, exit_code = (parts[0], _SEPARATOR.join(parts[1:-2]),
                                            parts[-2], parts[-1])
            code = exit_code.split(":")[0]
            jobs.append(BatchJob(job_id, name, _state_of(raw), raw,
                                 int(code) if code.isdigit() else None))
        return jobs

    @staticmethod
    def cancel_command(job_ids):
        return shlex.join(["scancel", *job_ids])
