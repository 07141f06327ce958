"""What the stand-in's Slurm knows about its jobs, read live, and the requests sent to it.

Every front answers from here: the controller's own view (`squeue --json`, which in
Slurm 22.05 lists every job the controller still holds, finished ones included for
MinJobAge seconds) and, for jobs the controller has forgotten, the accounting database
(`sacct --json`, when slurmdbd runs). Nothing is cached between commands.
"""
import dataclasses
import json
import os
import re
import subprocess

# Slurm's states that mean the job is over.
ENDED_STATES = frozenset({
    "COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "NODE_FAIL", "OUT_OF_MEMORY",
    "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT"})
HISTORY_WINDOW = "now-14days"


class SlurmUnreachable(Exception):
    """slurmctld did not answer: the server is down or out of reach."""


# Why sbatch refused a job, from the words of its error lines (first match wins).
UNKNOWN_PARTITION, USER_LIMIT, ACCOUNT_USER_LIMIT, TOTAL_LIMIT, BAD_ACCOUNT, BAD_DEPENDENCY, \
    BUSY, OVER_LIMITS, OTHER = ("unknown partition", "user limit", "account user limit",
                                "total limit", "bad account", "bad dependency", "busy",
                                "over limits", "other")
_REFUSALS = (
    (UNKNOWN_PARTITION, ("Invalid partition",)),
    (USER_LIMIT, ("MaxSubmitJobPerUser",)),
    (ACCOUNT_USER_LIMIT, ("AssocMaxSubmitJobLimit",)),
    (TOTAL_LIMIT, ("GrpSubmitJobs",)),
    (BAD_ACCOUNT, ("Invalid account",)),
    (BAD_DEPENDENCY, ("dependency",)),
    (BUSY, ("Socket timed out",)),
    (OVER_LIMITS, ("node configuration is not available", "time limit", "QOS", "processors",
                   "Node count", "policy")))


class SlurmRefused(Exception):
    """Slurm refused a request; `message` is its last error line, `kind` what it means."""

    def __init__(self, lines):
        self.message = lines[-1] if lines else "no answer"
        super().__init__(self.message)
        said = " ".join(lines)
        self.kind = next((kind for kind, fragments in _REFUSALS
                          if any(fragment in said for fragment in fragments)), OTHER)


@dataclasses.dataclass(frozen=True)
class Allocation:
    """One node of a job's allocation: its name, CPUs and the cores' numbers."""

    node: str
    cpus: int
    cores: tuple = ()


@dataclasses.dataclass(frozen=True)
class Job:
    """One batch job as Slurm knows it. A field Slurm's source did not report is None."""

    job_id: int
    name: str
    user: str
    group: str
    state: str
    reason: str
    partition: str
    account: str | None
    submit_time: int
    eligible_time: int | None
    start_time: int | None
    end_time: int | None
    time_limit_minutes: int | None
    node_count: int | None
    cpus: int | None
    tasks_per_node: int | None
    allocation: tuple
    stdout: str | None
    stderr: str | None
    workdir: str | None
    requeue: bool | None
    dependency: str
    exit_code: int | None
    exit_signal: int | None
    cancelled_by: str | None
    comment: str
    restarts: int = 0
    exclusive: bool = False

    @property
    def ended(self):
        return self.state in ENDED_STATES

    @property
    def ran(self):
        """Whether the job ever started: a job cancelled while pending got no nodes."""
        return self.start_time is not None


def run(argv, stdin=None, env=None):
    """One Slurm command; returns (exit status, stdout, stderr)."""
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                            env={**os.environ, **(env or {})})
    return result.returncode, result.stdout, result.stderr


def controller_jobs():
    """Every job slurmctld holds, by id. Slurm 22.05's `squeue --json` ignores job and
    state filters and reports a failed request as an `errors` entry with status 0."""
    status, stdout, stderr = run(["squeue", "--json"])
    try:
        document = json.loads(stdout)
    except ValueError:
        raise SlurmUnreachable(stderr.strip() or stdout.strip()) from None
    if status != 0 or document.get("errors"):
        raise SlurmUnreachable(stderr.strip() or json.dumps(document.get("errors")))
    cores_per_socket = _cores_per_socket() if any(
        job.get("job_resources") for job in document["jobs"]) else {}
    return {job["job_id"]: _from_squeue(job, cores_per_socket) for job in document["jobs"]}


def accounted_jobs(job_ids=None):
    """Jobs from the accounting database, by id: the ones asked for, or every job of the
    last two weeks. Empty when Slurm keeps no accounting (no slurmdbd)."""
    if job_ids == []:
        return {}
    argv = ["sacct", "--json", "--allusers"]
    argv += ["--jobs", ",".join(str(job_id) for job_id in job_ids)] if job_ids else \
        ["--starttime", HISTORY_WINDOW]
    status, stdout, _ = run(argv)
    if status != 0:
        return {}
    try:
        records = json.loads(stdout)["jobs"]
    except (ValueError, KeyError):
        return {}
    # A requeued job appears once per run under one id: the last record is the live one.
    # A record without its user (slurmdbd took it from a slurmctld that ran before the
    # cluster had accounting) is nobody's job a PBS server could name: left out.
    return {record["job_id"]: from_sacct(record) for record in records if record.get("user")}


def jobs(job_ids=None, with_history=True):
    """The controller's jobs, and those only the accounting database remembers."""
    live = controller_jobs()
    if not with_history:
        return live
    wanted = None if job_ids is None else [job_id for job_id in job_ids if job_id not in live]
    remembered = accounted_jobs(wanted)
    return {**remembered, **live}


def submit(argv, script_text, environment):
    """sbatch --parsable, the script from a file named in ARGV or else from
    `script_text`; the batch job inherits `environment` on top of the caller's.
    Returns the new job's id."""
    status, stdout, stderr = run(["sbatch", "--parsable", *argv], stdin=script_text,
                                 env=environment)
    if status != 0:
        raise _refusal(stderr)
    return int(stdout.strip().split(";")[0])


def cancel(job_id):
    """scancel; Slurm exits 0 even when it refuses, so its words decide."""
    status, _, stderr = run(["scancel", str(job_id)])
    if status != 0 or "error" in stderr:
        raise _refusal(stderr)


def batch_sessions():
    """{job id: pid of its batch shell} for the jobs running on this node; PBS calls it
    the job's session_id. The shell is the batch step's oldest process."""
    _, stdout, _ = run(["scontrol", "listpids"])
    sessions = {}
    for line in stdout.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[0].isdigit() and fields[1].isdigit() and fields[2] == "batch":
            job_id, pid = int(fields[1]), int(fields[0])
            sessions[job_id] = min(pid, sessions.get(job_id, pid))
    return sessions


def default_partition():
    _, stdout, _ = run(["sinfo", "--noheader", "--format=%P"])
    return next((name.rstrip("*") for name in stdout.split() if name.endswith("*")), "")


def _refusal(stderr):
    lines = [line.split("error: ", 1)[-1].strip() for line in stderr.splitlines() if line.strip()]
    if any("Unable to contact slurm controller" in line for line in lines):
        return SlurmUnreachable(lines[-1])
    return SlurmRefused(lines)


def _cores_per_socket():
    _, stdout, _ = run(["sinfo", "--noheader", "--Node", "--format=%N %Y"])
    pairs = (line.split() for line in stdout.splitlines())
    return {pair[0]: int(pair[1]) for pair in pairs if len(pair) == 2 and pair[1].isdigit()}


def _from_squeue(job, cores_per_socket):
    status = job.get("exit_code") or 0
    ended = job["job_state"] in ENDED_STATES
    resources = job.get("job_resources") or {}
    allocation = tuple(
        Allocation(node["nodename"], *_cores(node, cores_per_socket.get(node["nodename"], 1)))
        for node in resources.get("allocated_nodes", []))
    return Job(
        job_id=job["job_id"], name=job["name"], user=job["user_name"],
        group=job["group_name"], state=job["job_state"], reason=job["state_reason"],
        partition=job["partition"], account=job["account"] or None,
        submit_time=job["submit_time"], eligible_time=job["eligible_time"] or None,
        start_time=(job["start_time"] or None) if job["nodes"] else None,
        end_time=job["end_time"] if ended else None,
        time_limit_minutes=job["time_limit"], node_count=job["node_count"],
        cpus=job["cpus"], tasks_per_node=job["tasks_per_node"] or None,
        allocation=allocation, stdout=_expanded(job["standard_output"], job),
        stderr=_expanded(job["standard_error"], job), workdir=job["current_working_directory"],
        requeue=job["requeue"], dependency=job["dependency"],
        exit_code=(status >> 8) & 0xff if ended else None,
        exit_signal=status & 0x7f if ended else None,
        cancelled_by=None, comment=job["comment"], restarts=job["restart_cnt"] or 0,
        exclusive=job["shared"] == "none")


def _expanded(pattern, job):
    """A file name as Slurm writes it: `%j` (and `%A`) the job id, `%x` its name, `%u` its
    user, `%%` a percent sign. squeue reports the pattern as it was given."""
    if not pattern:
        return None
    values = {"j": str(job["job_id"]), "A": str(job["job_id"]), "x": job["name"],
              "u": job["user_name"], "%": "%"}
    return re.sub(r"%([jAxu%])", lambda match: values[match.group(1)], pattern)


def _cores(node, cores_per_socket):
    """A node's allocated cores, numbered across sockets as the node counts them."""
    cores = sorted(int(socket) * cores_per_socket + int(core)
                   for socket, detail in node.get("sockets", {}).items()
                   for core, use in detail.get("cores", {}).items() if use == "allocated")
    return len(cores), tuple(cores)


def from_sacct(record):
    """A job from one `sacct --json` record (Slurm 22.05, OpenAPI v0.0.38)."""
    times = record["time"]
    started = bool(times["start"]) and record["nodes"] != "None assigned"
    state = record["state"]["current"].split()[0]
    code, signal = _sacct_exit(record) if state in ENDED_STATES else (None, None)
    cpus = next((tres["count"] for tres in record["tres"]["allocated"] if tres["type"] == "cpu"),
                None) or record["required"]["CPUs"]
    allocation = tuple(Allocation(node, cpus // max(1, record["allocation_nodes"]))
                       for node in _node_names(record["nodes"])) if started else ()
    return Job(
        job_id=record["job_id"], name=record["name"], user=record["user"],
        group=record["group"], state=state,
        reason=record["state"]["reason"], partition=record["partition"],
        account=record["account"] or None, submit_time=times["submission"],
        eligible_time=times["eligible"] or None, start_time=times["start"] if started else None,
        end_time=times["end"] or None, time_limit_minutes=times["limit"],
        node_count=record["allocation_nodes"] or None, cpus=cpus,
        tasks_per_node=None, allocation=allocation, stdout=None, stderr=None,
        workdir=record["working_directory"], requeue=None, dependency="",
        exit_code=code, exit_signal=signal, cancelled_by=record["kill_request_user"],
        comment=(record.get("comment") or {}).get("job") or "")


def _sacct_exit(record):
    """(code, signal): a job's own exit code reads SUCCESS even when its batch step was
    killed (a TIMEOUT, a cancel), so the batch step speaks for it then."""
    candidates = [record["exit_code"]] + [
        step["exit_code"] for step in record.get("steps", []) if step["step"]["name"] == "batch"]
    for exit_code in reversed(candidates):
        if exit_code.get("status") == "SIGNALED":
            return 0, exit_code["signal"]["signal_id"]
    return record["exit_code"].get("return_code") or 0, 0


def _node_names(nodes):
    """`node[1-3],other` as node names; a plain name needs no expanding."""
    if not re.search(r"[\[,]", nodes):
        return [nodes]
    status, stdout, _ = run(["scontrol", "show", "hostnames", nodes])
    return stdout.split() if status == 0 else [nodes]
