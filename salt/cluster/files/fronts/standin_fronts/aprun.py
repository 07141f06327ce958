"""Cray ALPS's aprun over Slurm's srun, inside a batch job.

`aprun -n PES -N PES_PER_NODE -d DEPTH [-j N] [-cc BINDING] [-b] [-q] [-B] COMMAND [ARGS]`
places PES processing elements, PES_PER_NODE on each node, DEPTH CPUs each, within the
batch job's reservation, which here is the job's Slurm allocation. A claim the
reservation cannot hold is refused before anything starts, with ALPS's own words
(`apsched: claim exceeds reservation's node-count`, `... CPUs`) and exit status 1.
aprun forwards the signals ALPS forwards to the application, and after it prints on
stdout which exit codes or signals ended its processing elements, as aprun does.

-j (CPUs per compute unit) and -cc (CPU binding) are taken and have no effect: the
stand-in's Slurm binds no tasks (TaskPlugin=task/none). -b (no binary transfer) has
nothing to skip. Slurm gathers no usage on the stand-in, so aprun prints no
`Application ... resources:` line.
"""
import os
import re
import signal
import subprocess
import sys

# The signals aprun passes on to the application (HPE's aprun documentation).
FORWARDED = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGABRT,
             signal.SIGUSR1, signal.SIGUSR2, signal.SIGURG, signal.SIGWINCH)
WITH_VALUE = {"-n", "-N", "-d", "-j", "-cc", "-m", "-S", "-ss", "-r", "-p", "-a", "-L", "-e",
              "-F", "-sn", "-sl"}
WITHOUT_VALUE = {"-b", "-q", "-B", "-T", "-D"}


class Refused(Exception):
    """aprun refuses the request before anything starts."""


def main(argv):
    try:
        claim, command = parse(argv)
        reservation = Reservation.of_batch_job(os.environ)
        srun_argv = reservation.srun_arguments(claim)
    except Refused as refusal:
        sys.stderr.write(f"{refusal}\n")
        return 1
    return launch(srun_argv + command, quiet="-q" in claim)


def parse(argv):
    """({option: value}, command): aprun's options end at the first word that is not one."""
    claim, index = {}, 0
    while index < len(argv) and argv[index].startswith("-"):
        option = argv[index]
        if option in WITHOUT_VALUE:
            claim[option] = True
            index += 1
        elif option in WITH_VALUE and index + 1 < len(argv):
            claim[option] = argv[index + 1]
            index += 2
        else:
            raise Refused(f"aprun: Unrecognized option {option}")
    for option in ("-n", "-N", "-d", "-j"):
        if option in claim and not re.match(r"^[1-9]\d*$", claim[option]):
            raise Refused(f"aprun: {option} value must be a positive integer: {claim[option]}")
    if index == len(argv):
        raise Refused("aprun: Missing command")
    return claim, argv[index:]


class Reservation:
    """The batch job's reservation: its nodes and the CPUs each holds."""

    def __init__(self, nodes, cpus_per_node):
        self.nodes = nodes
        self.cpus_per_node = cpus_per_node

    @classmethod
    def of_batch_job(cls, environ):
        if "SLURM_JOB_ID" not in environ:
            raise Refused("aprun: no batch job reservation (aprun runs inside a batch job)")
        # SLURM_JOB_CPUS_PER_NODE reads like `4`, `4(x2)` or `4(x2),2`: the fewest counts.
        counts = [int(count) for count in
                  re.findall(r"(\d+)(?:\(x\d+\))?", environ.get("SLURM_JOB_CPUS_PER_NODE", "1"))]
        return cls(int(environ.get("SLURM_JOB_NUM_NODES", "1")), min(counts or [1]))

    def srun_arguments(self, claim):
        if "-B" in claim:
            if any(option in claim for option in ("-n", "-N", "-d", "-m")):
                raise Refused("aprun: -B cannot be used with -n, -N, -d or -m")
            claim = {**claim, "-n": str(self.nodes), "-N": "1", "-d": str(self.cpus_per_node)}
        depth = int(claim.get("-d", 1))
        width = int(claim.get("-n", 1))
        per_node = int(claim.get("-N", max(1, min(width, self.cpus_per_node // depth))))
        if depth * min(per_node, width) > self.cpus_per_node:
            raise Refused("apsched: claim exceeds reservation's CPUs")
        nodes = -(-width // per_node)
        if nodes > self.nodes:
            raise Refused("apsched: claim exceeds reservation's node-count")
        return ["srun", "--quiet", f"--ntasks={width}", f"--ntasks-per-node={per_node}",
                f"--cpus-per-task={depth}", f"--nodes={nodes}", "--kill-on-bad-exit=0"]


def _steps(job_id):
    """The job's application steps (`12.0`, `12.1`), not its batch or extern step."""
    listing = subprocess.run(["squeue", "--steps", f"--jobs={job_id}", "--noheader",
                              "--format=%i"], capture_output=True, text=True).stdout
    return {step for step in listing.split() if re.match(rf"^{job_id}\.\d+$", step)}


def launch(argv, quiet):
    """Run the application, passing signals on; report how its elements ended."""
    job_id = os.environ["SLURM_JOB_ID"]
    earlier_steps = _steps(job_id)
    child = subprocess.Popen(argv)

    def forward(received, _frame):
        # srun ends the whole step on TERM, INT, HUP or QUIT instead of passing them on,
        # so the signal goes to the step's tasks through Slurm.
        steps = _steps(job_id) - earlier_steps
        for step in steps:
            subprocess.run(["scancel", "--quiet", f"--signal={signal.Signals(received).name[3:]}",
                            step], check=False)
        if not steps:
            child.send_signal(received)

    for number in FORWARDED:
        signal.signal(number, forward)
    status = child.wait()
    if status and not quiet:
        apid = child.pid
        name = signal.strsignal(status - 128) if status > 128 else None
        if name:
            sys.stdout.write(f"Application {apid} exit signals: {name}\n")
        elif status > 0:
            sys.stdout.write(f"Application {apid} exit codes: {status}\n")
    sys.stdout.flush()
    return status if status >= 0 else 128 - status
