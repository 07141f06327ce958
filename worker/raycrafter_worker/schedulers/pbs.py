"""What the PBS family shares (PBS Professional and OpenPBS, Torque, and Slurm's PBS
wrappers): qsub prints the new job's id, ``qstat -f`` describes jobs (qstat_full.py), qdel
removes them. Each member says how it asks for nodes, how it lists a user's jobs, which
states it prints and what its exit statuses mean.

Every PBS client exits with its error code & 0xff, and the two families number their
codes differently (OpenPBS: unknown job 153, "Job has finished" 35; Torque: unknown job
153, bad state 170), so a failure is read by its words (command_failures.py), never by
its number alone.
"""
import re

from ..command_failures import check
from . import pbs_exit_status, qstat_full
from .base import ENDED, QUEUED, BatchJob, Scheduler

# ``NUMBER`` or ``NUMBER.SERVER``; an array job ``NUMBER[].SERVER``.
_JOB_ID = re.compile(r"^\d+(?:\[\d*\])?(?:\.[\w.-]+)?$")
# What qstat and qdel say of a job the server no longer holds as queued or running: it
# finished (PBS Professional keeps it only in its history, -x), or it is unknown (no
# history, or its Torque keep_completed time is over). For a listing or a cancel these
# lines are news, not failures.
_FORGOTTEN = re.compile(r"unknown job id|job has finished|nonexistent job id",
                        re.IGNORECASE)


class PbsFamily(Scheduler):
    JOB_ID_VARIABLE = "PBS_JOBID"
    # job_state letter -> QUEUED, RUNNING or ENDED
    STATES = {}
    EXIT_ATTRIBUTE = "Exit_status"
    EXIT_MEANINGS = pbs_exit_status.PBS_PRO

    def submit_command(self, script, job_name, stdout, stderr):
        p = self.profile
        args = ["-N", job_name, "-o", stdout, "-e", stderr, *self.resource_request()]
        if p.queue:
            args += ["-q", p.queue]
        if p.account:
            args += ["-A", p.account]
        return self.command("qsub", *args, script)

    def resource_request(self):
        """qsub's options asking for the profile's nodes and walltime."""
        raise NotImplementedError

    def parse_submit(self, output):
        """qsub prints exactly one line, the id (``NUMBER.SERVER``, the Slurm wrapper a
        bare number): kept whole, as qstat and qdel know it."""
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        if len(lines) != 1 or not _JOB_ID.match(lines[0]):
            raise ValueError(f"qsub printed no job id: {output.strip()!r}")
        return lines[0]

    def user_jobs_commands(self, *qstat_options):
        """``qstat -f`` of the cluster user's jobs: qselect names them, so a busy site's
        listing is not every user's (and a user without jobs asks nothing); then, for a
        login node without qselect, every user's jobs, which parse_list sorts out."""
        select = self.command("qselect", "-u", self.profile.user)
        qstat = self.command("qstat", "-f", *qstat_options)
        return [f"ids=$({select}) || exit $?; [ -n \"$ids\" ] || exit 0; {qstat} $ids", qstat]

    def parse_list(self, result):
        return [job for job in self.parse_answer(result, "listing batch jobs")
                if job.owner == self.profile.user]

    def parse_accounting(self, result):
        return self.parse_answer(result, "asking the batch system's history")

    def parse_answer(self, result, action):
        """Jobs in a qstat answer. A job that ended between qselect and qstat, or one
        asked for by id that the server forgot, makes qstat exit non-zero with a line
        saying so while it still describes the others: only other failures count."""
        if result.status != 0 and not self.only_forgotten_jobs(result):
            check(result, f"{action} on cluster {self.profile.name}")
        return [self.batch_job(job_id, attributes)
                for job_id, attributes in self.parse_jobs(result.stdout)]

    def parse_jobs(self, text):
        """[(id, attributes)] of a qstat answer's text (the JSON form overrides it)."""
        return qstat_full.parse_text(text)

    @staticmethod
    def only_forgotten_jobs(result):
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        return bool(lines) and all(_FORGOTTEN.search(line) for line in lines)

    def batch_job(self, job_id, attributes):
        raw = attributes.get("job_state", "").strip()
        state = self.STATES.get(raw[:1], QUEUED)
        exit_code = _integer(attributes.get(self.EXIT_ATTRIBUTE))
        return BatchJob(job_id, attributes.get("Job_Name", ""), state, raw, exit_code,
                        owner=attributes.get("Job_Owner", "").split("@", 1)[0].strip(),
                        ending=self.ending(raw, exit_code, attributes)
                        if state == ENDED else None)

    def ending(self, raw_state, exit_code, attributes):
        if exit_code is None:  # the exit file may tell more
            said = f"the batch job finished (job_state {raw_state})"
        else:
            said = pbs_exit_status.describe(exit_code, self.EXIT_MEANINGS,
                                            self.EXIT_ATTRIBUTE)
        elapsed = attributes.get("resources_used.walltime")
        return f"{said} after {elapsed}" if elapsed else said

    def cancel_command(self, job_ids):
        return self.command("qdel", *job_ids)

    def cancel_found_them_ended(self, result):
        return self.only_forgotten_jobs(result)


def nodes_request(profile):
    """Torque's ``nodes=N:ppn=C``, which Slurm's qsub wrapper reads too."""
    if profile.cores_per_node:
        return f"nodes={profile.nodes}:ppn={profile.cores_per_node}"
    return f"nodes={profile.nodes}"


def _integer(text):
    text = (text or "").strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else None
