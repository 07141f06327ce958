"""PBS/Torque (and Slurm's slurm-wlm-torque wrappers): qsub, qstat -f, qdel.

The wrappers ignore ``#PBS -o/-e`` and cannot read a script from stdin, so every option
goes on the command line and the script is a file; they print only the numeric id.
"""
import re
import shlex

from .base import ENDED, QUEUED, RUNNING, BatchJob, Scheduler

_STATES = {"Q": QUEUED, "H": QUEUED, "W": QUEUED, "T": QUEUED, "R": RUNNING,
           "E": RUNNING, "S": RUNNING, "B": RUNNING, "C": ENDED, "F": ENDED, "X": ENDED}
_HEADER = re.compile(r"^Job Id:\s*(\S+)")
_ATTRIBUTE = re.compile(r"^\s+([A-Za-z_][A-Za-z0-9_.]*) = ?(.*)$")


class PbsScheduler(Scheduler):
    """Torque keeps no accounting ordinary users can query: ended jobs are known by their
    exit files (the base class's accounting_command is None)."""
    name = "pbs"
    # Slurm's qstat wrapper exits 153 (Torque's "unknown job") without a word when the
    # user has no job at all: for a listing that is an empty queue, not a failure.
    EMPTY_LISTING_STATUS = 153

    def submit_command(self, script, job_name, stdout, stderr):
        p = self.profile
        args = ["qsub", "-N", job_name, "-o", stdout, "-e", stderr,
                "-l", f"walltime={p.walltime},nodes={p.nodes}"]
        if p.queue:
            args += ["-q", p.queue]
        if p.account:
            args += ["-A", p.account]
        return shlex.join(args + [script])

    @staticmethod
    def parse_submit(output):
        """Torque prints ``ID.SERVER``, the Slurm wrapper a bare number: keep it whole."""
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        if len(lines) != 1 or not re.match(r"^\d+(\.[\w.-]+)?$", lines[0]):
            raise ValueError(f"qsub printed no job id: {output.strip()!r}")
        return lines[0]

    @staticmethod
    def list_command():
        return "qstat -f"

    def parse_list(self, output):
        """The cluster user's own jobs: ``qstat -f`` lists every user's, and a stranger's
        job named like one of ours must be neither adopted nor cancelled."""
        jobs = []
        for block in _blocks(output):
            owner = block["attributes"].get("Job_Owner", "").strip().split("@", 1)[0]
            if owner != self.profile.user:
                continue
            raw = block["attributes"].get("job_state", "")
            exit_status = (block["attributes"].get("exit_status")
                           or block["attributes"].get("Exit_status"))
            jobs.append(BatchJob(
                block["id"], block["attributes"].get("Job_Name", ""),
                _STATES.get(raw.strip()[:1], QUEUED), raw.strip(),
                int(exit_status) if exit_status and exit_status.lstrip("-").isdigit()
                else None))
        return jobs

    @staticmethod
    def cancel_command(job_ids):
        return shlex.join(["qdel", *job_ids])


def _blocks(output):
    blocks, last_key = [], None
    for line in output.splitlines():
        header = _HEADER.match(line)
        if header:
            blocks.append({"id": header.group(1), "attributes": {}})
            last_key = None
            continue
        if not blocks or not line.strip():
            continue
        attributes = blocks[-1]["attributes"]
        attribute = _ATTRIBUTE.match(line)
        if attribute:
            last_key = attribute.group(1)
            attributes[last_key] = attribute.group(2).strip()
        elif last_key:
            # Torque wraps long values onto tab-indented continuation lines.
            attributes[last_key] += line.strip()
    return blocks
