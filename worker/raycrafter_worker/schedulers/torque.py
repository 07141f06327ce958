"""Torque (with or without Moab).

Nodes are asked for as ``-l nodes=N:ppn=C`` and ``-l walltime``; a user's jobs are
listed with qselect and ``qstat -f`` (Torque's ``-x`` means XML, not history). A finished
job stays in ``qstat`` as state C with its ``exit_status`` for the server's
``keep_completed`` seconds, then the server forgets it and the exit file the batch script
leaves is the evidence.
"""
from . import pbs_exit_status
from .base import ENDED, QUEUED, RUNNING
from .pbs import PbsFamily, nodes_request


class TorqueScheduler(PbsFamily):
    name = "torque"
    # E: exiting after having run; S: suspended; C: completed.
    STATES = {"Q": QUEUED, "H": QUEUED, "W": QUEUED, "T": QUEUED,
              "R": RUNNING, "E": RUNNING, "S": RUNNING, "C": ENDED}
    EXIT_ATTRIBUTE = "exit_status"
    EXIT_MEANINGS = pbs_exit_status.TORQUE

    def resource_request(self):
        return ["-l", nodes_request(self.profile), "-l", f"walltime={self.profile.walltime}"]

    def list_commands(self):
        return self.user_jobs_commands()

    def accounting_commands(self, job_ids):
        return [self.command("qstat", "-f", *job_ids)]

