"""What PBS Professional and Torque alike say of a Slurm job.

The phase of a job decides its state letter in both dialects: Slurm's PENDING is PBS's
Q, or H when held (by its user, an administrator, or a dependency), or W while it waits
for a start time; RUNNING is R, SUSPENDED S, COMPLETING E (exiting after having run).
A job that ended is F in PBS Professional's history and C in Torque.
"""
import os
import pwd
import time

from . import pbs_submission, pbs_text

QUEUED, HELD, WAITING, RUNNING, SUSPENDED, EXITING, ENDED = (
    "queued", "held", "waiting", "running", "suspended", "exiting", "ended")

# Slurm's reasons for holding a job, as PBS's Hold_Types: user, operator, system.
HOLDS = {"JobHeldUser": "u", "JobHeldAdmin": "o", "Dependency": "s"}


def phase(job):
    if job.ended:
        return ENDED
    if job.state == "PENDING":
        if job.reason in HOLDS:
            return HELD
        return WAITING if job.reason == "BeginTime" else QUEUED
    if job.state == "SUSPENDED":
        return SUSPENDED
    if job.state == "COMPLETING":
        return EXITING
    return RUNNING


def hold_types(job):
    return HOLDS.get(job.reason, "n") if phase(job) == HELD else "n"


def owner(job, host):
    return f"{job.user}@{host}"


def dependency(job, server):
    """Slurm's `afterok:12(unfulfilled)` as PBS's `afterok:12.server`."""
    if not job.dependency:
        return None
    kind, _, rest = job.dependency.partition(":")
    numbers = [part.split("(")[0] for part in rest.split(":") if part.split("(")[0].isdigit()]
    return f"{kind}:" + ":".join(f"{number}.{server}" for number in numbers)


def output_paths(job, host):
    """(Output_Path, Error_Path, Join_Path); Slurm writes both streams to one file when
    they are joined, and PBS then still names the stream's own default file."""
    if job.stdout is None:
        return None, None, None
    if job.stdout != job.stderr:
        return f"{host}:{job.stdout}", f"{host}:{job.stderr}", "n"
    error_default = f"{job.workdir}/{job.name}.e{job.job_id}"
    if job.stdout == error_default:
        return f"{host}:{job.workdir}/{job.name}.o{job.job_id}", f"{host}:{job.stderr}", "eo"
    return f"{host}:{job.stdout}", f"{host}:{error_default}", "oe"


def queue_attributes(job, server, letter):
    """The attributes both dialects print from job_state to depend, in their order."""
    return [("job_state", letter), ("queue", job.partition), ("server", server),
            ("Account_Name", job.account), ("Checkpoint", "u"),
            ("ctime", pbs_text.timestamp(job.submit_time)), ("depend", dependency(job, server))]


def handling_attributes(job, host):
    """The attributes both dialects print from Hold_Types to Rerunable, in their order."""
    output, _, join = output_paths(job, host)
    return [("Hold_Types", hold_types(job)), ("Join_Path", join), ("Keep_Files", "n"),
            ("Mail_Points", "a"), ("mtime", pbs_text.timestamp(modified(job))),
            ("Output_Path", output), ("Priority", "0"),
            ("qtime", pbs_text.timestamp(job.submit_time)), ("Rerunable", rerunnable(job))]


def error_path(job, host):
    return output_paths(job, host)[1]


def cpus_per_node(job):
    return max(1, (job.cpus or 1) // max(1, job.node_count or 1))


def elapsed(job, now=None):
    """Seconds the job has run (or ran)."""
    if job.start_time is None:
        return 0
    return max(0, (job.end_time or int(now or time.time())) - job.start_time)


def session_id(job, sessions):
    """The pid of the job's batch shell while it runs; Slurm keeps no record of it after."""
    return str(sessions[job.job_id]) if job.job_id in sessions else None


def modified(job):
    """PBS's mtime: the job's last change of state Slurm recorded."""
    return job.end_time or job.start_time or job.submit_time


def rerunnable(job):
    return "True" if job.requeue is not False else "False"


def signal_or_code(job):
    """How a shell reports its end: 256 + N when killed by signal N, else its code."""
    return 256 + job.exit_signal if job.exit_signal else job.exit_code


def variable_list(job, host):
    """PBS_O_* as PBS lists them: the ones qsub copied from its caller (kept in the job's
    comment), the ones the job's owner and Slurm's record give, the user's -v ones."""
    _, stored = pbs_submission.read_facts(job.comment)
    stored = dict(stored)
    account = _account(job.user)
    shell = account.pw_shell if account else None
    listed = [("PBS_O_HOME", home(job)), ("PBS_O_LANG", stored.pop("PBS_O_LANG", None)),
              ("PBS_O_LOGNAME", job.user), ("PBS_O_PATH", stored.pop("PBS_O_PATH", None)),
              ("PBS_O_MAIL", stored.pop("PBS_O_MAIL", None)), ("PBS_O_SHELL", shell),
              ("PBS_O_WORKDIR", job.workdir), ("PBS_O_SYSTEM", os.uname().sysname),
              *stored.items(), ("PBS_O_QUEUE", job.partition), ("PBS_O_HOST", host)]
    return [(name, value) for name, value in listed if value is not None]


def home(job):
    """The job owner's home: PBS's jobdir, and PBS_O_HOME."""
    account = _account(job.user)
    return account.pw_dir if account else None


def _account(user):
    try:
        return pwd.getpwnam(user)
    except KeyError:
        return None


def submit_arguments(job):
    return pbs_submission.read_facts(job.comment)[0]
