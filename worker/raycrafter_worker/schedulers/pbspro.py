"""PBS Professional and OpenPBS.

Nodes are asked for as ``-l select=N:ncpus=C:mpiprocs=1`` with ``-l place=scatter`` (one
chunk, and one node agent, per node) and ``-l walltime``. A user's jobs are listed with
qselect and ``qstat -f``, as JSON where the server speaks it (PBS Professional 18 and
later) and as text otherwise, or when its JSON is invalid; without qselect, ``qstat -f``
of every user's jobs. A finished job leaves
``qstat`` at once; it stays known to ``qstat -x`` only where the site keeps job history
(``job_history_enable``), so the poller asks the history and, without one, reads the exit
file the batch script leaves.
"""
from . import qstat_full
from .base import ENDED, QUEUED, RUNNING
from .pbs import PbsFamily


class PbsProScheduler(PbsFamily):
    name = "pbspro"
    # B: an array job with a subjob started; E: exiting after having run; S and U:
    # suspended (U for keyboard activity on its node); M: moved to another server;
    # X: a finished subjob; F: finished (history only).
    STATES = {"Q": QUEUED, "H": QUEUED, "W": QUEUED, "T": QUEUED, "M": QUEUED,
              "R": RUNNING, "E": RUNNING, "S": RUNNING, "U": RUNNING, "B": RUNNING,
              "F": ENDED, "X": ENDED}

    def resource_request(self):
        p = self.profile
        chunk = f"{p.nodes}:ncpus={p.cores_per_node}" if p.cores_per_node else str(p.nodes)
        return ["-l", f"select={chunk}:mpiprocs=1", "-l", "place=scatter",
                "-l", f"walltime={p.walltime}"]

    def list_commands(self):
        (json_selected, json_all), (text_selected, text_all) = (
            self.user_jobs_commands("-F", "json"), self.user_jobs_commands())
        return [json_selected, text_selected, json_all, text_all]

    def accounting_commands(self, job_ids):
        return [self.command("qstat", "-x", "-f", "-F", "json", *job_ids),
                self.command("qstat", "-x", "-f", *job_ids)]

    def parse_jobs(self, text):
        text = text.strip()
        if text.startswith("{"):
            return qstat_full.parse_json(text)
        return qstat_full.parse_text(text)
