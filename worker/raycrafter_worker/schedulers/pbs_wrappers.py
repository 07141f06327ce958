"""Slurm's PBS wrappers (Debian's slurm-wlm-torque): qsub, qstat and qdel written in Perl
over sbatch, squeue and scancel.

They ignore ``#PBS -o/-e`` and cannot read a script from stdin, so every option goes on
the command line and the script is a file; qsub prints only the numeric id and the batch
job sees SLURM_JOB_ID, not PBS_JOBID. There is no qselect: ``qstat -f`` lists every
user's jobs, and the listing keeps the cluster user's. Ended jobs stay listed as C for
Slurm's MinJobAge, without an exit status.
"""
from .base import ENDED, QUEUED, RUNNING
from .pbs import PbsFamily, nodes_request


class PbsWrappersScheduler(PbsFamily):
    name = "pbs-wrappers"
    JOB_ID_VARIABLE = "SLURM_JOB_ID"
    STATES = {"Q": QUEUED, "H": QUEUED, "W": QUEUED, "T": QUEUED, "R": RUNNING,
              "E": RUNNING, "S": RUNNING, "B": RUNNING, "C": ENDED, "F": ENDED, "X": ENDED}
    # qstat exits 153 (Torque's "unknown job") without a word when the user has no job at
    # all: for a listing that is an empty queue, not a failure.
    EMPTY_LISTING_STATUS = 153

    def resource_request(self):
        return ["-l", f"walltime={self.profile.walltime},{nodes_request(self.profile)}"]

    def list_commands(self):
        return [self.command("qstat", "-f")]

    def parse_list(self, result):
        if (result.status == self.EMPTY_LISTING_STATUS and not result.stdout.strip()
                and not result.stderr.strip()):
            return []
        return super().parse_list(result)
