"""The stand-in's commands, by the batch system they play and their name."""
import getopt
import sys

from . import aprun, pbs_commands, pbspro, pbspro_qstat, torque, torque_qstat


def main(system, command, argv):
    """Run one command; its output goes to this process's streams, its status is returned."""
    if (system, command) == ("alps", "aprun"):
        return aprun.main(argv)
    run = COMMANDS.get((system, command))
    if run is None:
        sys.stderr.write(f"{command}: not a command of the stand-in's {system} front\n")
        return 127
    answer = run(argv)
    sys.stdout.write(answer.stdout)
    sys.stderr.write(answer.stderr)
    return answer.status


def _qsub(dialect):
    def qsub(argv):
        if argv == ["--version"] and dialect is pbspro:
            return pbs_commands.Answer(stdout=f"pbs_version = {pbspro.VERSION}\n")
        return pbs_commands.qsub(dialect, argv, sys.stdin.read)
    return qsub


def _qdel(dialect, optstring):
    """qdel's options change how a deletion is done (-W force, -p purge, -x), not which
    jobs go: each is accepted and the jobs are cancelled in Slurm alike."""
    def qdel(argv):
        try:
            _, job_ids = getopt.getopt(argv, optstring)
        except getopt.GetoptError:
            job_ids = []
        if not job_ids:
            return pbs_commands.Answer(stderr=dialect.QDEL_USAGE, status=2)
        return pbs_commands.qdel(dialect, job_ids)
    return qdel


COMMANDS = {
    ("pbspro", "qsub"): _qsub(pbspro),
    ("pbspro", "qstat"): pbspro_qstat.main,
    ("pbspro", "qdel"): _qdel(pbspro, "W:x"),
    ("torque", "qsub"): _qsub(torque),
    ("torque", "qstat"): torque_qstat.main,
    ("torque", "qdel"): _qdel(torque, "pW:"),
}
