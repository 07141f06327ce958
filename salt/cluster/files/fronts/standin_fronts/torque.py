"""Torque as the stand-in speaks it: Torque 6's job attributes (as the DKFZ capture shows
them), and the error texts Torque's clients print as real sites recorded them.

Sources: Torque's code (adaptivecomputing/torque src/cmds/qstat.c, qsub_functions.c,
qdel.c, src/include/pbs_error_db.h, src/server/svr_jobfunc.c, svr_chk_owner.c) and what
real servers printed (../shared/captures/pbs, tests/worker/captures/real). Torque
numbers its errors in the order of pbs_error_db.h from 15000, so the same name exits
with another status than in PBS Professional: PBSE_BADSTATE is 15018, exit 170.

A completed job stays in `qstat` as state C for the server's keep_completed seconds; the
stand-in's keep_completed is Slurm's MinJobAge (the same 300 s by default), after which
the job is unknown, as in Torque.
"""
import socket

from . import pbs_jobs, pbs_submission, pbs_text, pbspro, slurm

SERVER_VARIABLE = "PBS_DEFAULT"
LINE_LIMIT = 77
QSUB_OPTIONS = "A:e:hj:l:N:o:q:r:v:VW:z"
REMEMBERS_FINISHED_JOBS = False

UNKJOBID, PERM, SYSTEM, BADSTATE, UNKQUE, EXCQRESC, MAXQUED, BADACCT, BADDEPEND = (
    153, 159, 164, 170, 172, 190, 200, 203, 208)
MAXUSERQUED, SERVER_BUSY = 228, 30
# The connecting library reports ECONNREFUSED, and the clients exit with it.
QSUB_UNREACHABLE = QDEL_UNREACHABLE = QSTAT_UNREACHABLE = 111

STATE_LETTERS = {**pbspro.STATE_LETTERS, pbs_jobs.ENDED: "C"}
# Torque's own JOB_EXEC_* (src/include/pbs_job.h), which differ from PBS Professional's.
KILLED_AT_LIMIT = {"TIMEOUT": -11, "OUT_OF_MEMORY": -10}
LOST = {"NODE_FAIL": -2, "BOOT_FAIL": -1}
# What the server records for a job deleted before it ran (handle_aborted_job()).
ABORTED = 271


def exit_status(job):
    if not job.ended:
        return None
    if not job.ran:
        return LOST.get(job.state, ABORTED)
    if job.state in KILLED_AT_LIMIT:
        return KILLED_AT_LIMIT[job.state]
    if job.state in LOST:
        return LOST[job.state]
    return pbs_jobs.signal_or_code(job)


def exec_host(job):
    """`node/0-3`: the node and its execution slots, here the cores Slurm allocated."""
    return "+".join(f"{node.node}/{_ranges(node.cores or range(node.cpus))}"
                    for node in job.allocation)


def _ranges(numbers):
    numbers = sorted(numbers)
    spans, start = [], numbers[0]
    for previous, current in zip(numbers, numbers[1:] + [None]):
        if current != previous + 1 if current is not None else True:
            spans.append(str(start) if start == previous else f"{start}-{previous}")
            start = current
    return ",".join(spans)


def resource_list(job):
    nodes = job.node_count or 1
    resources = [("nodect", str(nodes)),
                 ("nodes", f"{nodes}:ppn={pbs_jobs.cpus_per_node(job)}")]
    if job.time_limit_minutes is not None:
        resources.append(("walltime", pbs_text.duration(job.time_limit_minutes * 60)))
    return resources


def attributes(job, server, host, sessions, now):
    """[(name, value)] in the order Torque 6 prints a job's attributes."""
    phase = pbs_jobs.phase(job)
    listed = [("Job_Name", job.name), ("Job_Owner", pbs_jobs.owner(job, host))]
    if job.ran:
        # Slurm gathers no usage on the stand-in (jobacct_gather/none): walltime is real.
        listed += [("resources_used.cput", "00:00:00"), ("resources_used.energy_used", "0"),
                   ("resources_used.mem", "0kb"), ("resources_used.vmem", "0kb"),
                   ("resources_used.walltime", pbs_text.duration(pbs_jobs.elapsed(job, now)))]
    listed += pbs_jobs.queue_attributes(job, server, STATE_LETTERS[phase])
    listed.append(("Error_Path", pbs_jobs.error_path(job, host)))
    if job.ran:
        listed.append(("exec_host", exec_host(job)))
    listed += pbs_jobs.handling_attributes(job, host)
    listed += [(f"Resource_List.{name}", value) for name, value in resource_list(job)]
    if job.ran:
        listed.append(("session_id", pbs_jobs.session_id(job, sessions)))
    listed += [("euser", job.user), ("egroup", job.group), ("queue_type", "E")]
    if job.eligible_time and phase != pbs_jobs.HELD:
        listed.append(("etime", pbs_text.timestamp(job.eligible_time)))
    status = exit_status(job)
    listed += [("exit_status", None if status is None else str(status)),
               ("submit_args", pbs_jobs.submit_arguments(job))]
    if job.ran:
        listed.append(("start_time", pbs_text.timestamp(job.start_time)))
        if not job.ended and job.time_limit_minutes is not None:
            remaining = job.time_limit_minutes * 60 - pbs_jobs.elapsed(job, now)
            listed.append(("Walltime.Remaining", str(max(0, remaining))))
        listed.append(("start_count", str(job.restarts + 1)))
    listed.append(("fault_tolerant", "False"))
    if job.ended:
        listed.append(("comp_time", pbs_text.timestamp(job.end_time)))
    listed.append(("job_radix", "0"))
    if job.ended and job.ran:
        listed.append(("total_runtime", f"{pbs_jobs.elapsed(job, now):.6f}"))
    listed += [("submit_host", host), ("request_version", "1")]
    return [(name, value) for name, value in listed if value not in (None, "")]


def read_resource(request, key, value):
    """`-l` as Torque takes it: nodes=N[:ppn=C], or ncpus; walltime."""
    if key == "nodes":
        count, _, ppn = value.partition(":ppn=")
        request.chunks = pbs_submission.chunk_count(count)
        request.ncpus = request.mpiprocs = pbs_submission.chunk_count(ppn) if ppn else 1
    elif key == "ncpus":
        request.ncpus = pbs_submission.chunk_count(value)
    elif key == "walltime":
        request.walltime = pbs_submission.seconds(value)
    else:
        raise pbs_submission.IllegalOption("l")


QSUB_USAGE = (
    "usage: qsub [-a date_time] [-A account_string] [-b secs]\n"
    "    [-c [ none | { enabled | periodic | shutdown |\n"
    "    depth=<int> | dir=<path> | interval=<minutes>}... ]\n"
    "    [-C directive_prefix] [-d path] [-D path]\n"
    "    [-e path] [-h] [-I] [-j oe|eo|n] [-k {oe}] [-K <kill delay seconds>] \n"
    "    [-l resource_list] [-m n|{abe}] [-M user_list] [-N jobname] [-o path] \n"
    "    [-p priority] [-P proxy_user [-J <jobid]] [-q queue] [-r y|n] \n"
    "    [-S path] [-t number_to_submit] [-T type]  [-u user_list] [-w] path\n"
    "    [-W additional_attributes] [-v variable_list] [-V ] [-x] [-X] [-z] [script]\n")
QSTAT_USAGE = (
    "usage: \n"
    "                          qstat [-f [-1]] [-W site_specific] [-x] "
    "[ job_identifier... | destination... ]\n"
    "                          qstat [-a|-i|-r|-e] [-u user] [-n [-1]] [-s] [-t] [-G|-M] [-R] "
    "[job_id... | destination...]\n"
    "                          qstat -Q [-f [-1]] [-W site_specific] [ destination... ]\n"
    "                          qstat -q [-G|-M] [ destination... ]\n"
    "                          qstat -B [-f [-1]] [-W site_specific] [ server_name... ]\n"
    "                          qstat -t\n")
QDEL_USAGE = ("usage: qdel [{ -a | -c | -p | -t | -W delay | -m message}] [-b retry_seconds] "
              "[<JOBID>[<JOBID>]|'all'|'ALL']...\n"
              "       -a -c, -m, -p, -t, and -W are mutually exclusive\n")


def qsub_illegal(option):
    """print_qsub_usage_exit(): the complaint in brackets, then the usage (exit 2)."""
    return f"[qsub: illegal -{option} value]\n\n{QSUB_USAGE}\n"


def qsub_unreadable_script(error):
    return f"qsub: script file '{error.filename}' cannot be loaded - {error.strerror}\n"


def unreachable(command, server):
    """cnt2server() tries three times, then the command gives up (errno 111)."""
    try:
        address = socket.gethostbyname(server)
    except OSError:
        address = "unknown"
    attempt = (f"\nUnable to communicate with {server}({address})\n"
               f"Cannot connect to default server host '{server}' - check pbs_server daemon "
               "and/or trqauthd.\n")
    return attempt * 3 + f"{command}: cannot connect to server {server} (errno=111) " \
                         "Connection refused\n"


def unknown_job(command, job_id):
    return f"{command}: Unknown Job Id {job_id}\n", UNKJOBID


def qdel_ended(job_id):
    """The server refuses to delete a completed job (chk_job_req_permissions())."""
    return (f"qdel: Request invalid for state of job MSG=invalid state for job - COMPLETE "
            f"{job_id}\n", BADSTATE)


def qdel_not_permitted(job_id):
    return f"qdel: Unauthorized Request  MSG=operation not permitted {job_id}\n", PERM


# Slurm's refusals of a submission in pbs_server's words: the error's text, then MSG= and
# the server's detail (req_reject()).
REFUSALS = {
    slurm.UNKNOWN_PARTITION: ("qsub: Unknown queue MSG=requested queue not found\n", UNKQUE),
    slurm.BAD_ACCOUNT: ("qsub: Invalid Account MSG=invalid account\n", BADACCT),
    slurm.BAD_DEPENDENCY: ("qsub: Invalid Job Dependency\n", BADDEPEND),
    slurm.BUSY: ("qsub: Pbs Server is currently too busy to service this request. "
                 "Please retry this request.\n", SERVER_BUSY),
    slurm.OVER_LIMITS: ("qsub: Job exceeds queue resource limits MSG=cannot locate feasible "
                        "nodes\n", EXCQRESC),
}
# The queue limits, whose detail names the user and the queue (svr_jobfunc.c); Torque has
# one limit per user, whichever of Slurm's it stands for.
_PER_USER = ("Maximum number of jobs already in queue for user",
             "total number of current user's jobs exceeds the queue limit", MAXUSERQUED)
QUEUE_LIMITS = {
    slurm.USER_LIMIT: _PER_USER, slurm.ACCOUNT_USER_LIMIT: _PER_USER,
    slurm.TOTAL_LIMIT: ("Maximum number of jobs already in queue",
                        "total number of jobs in queue exceeds the queue limit", MAXQUED),
}


def submission_refused(refusal, request):
    if refusal.kind in QUEUE_LIMITS:
        text, detail, status = QUEUE_LIMITS[refusal.kind]
        queue = request.queue or slurm.default_partition()
        owner = f"{pbs_submission.caller_name()}@{socket.gethostname()}"
        return f"qsub: {text} MSG={detail}: user {owner}, queue {queue}\n", status
    # Torque's text for PBSE_SYSTEM begins with a space.
    return REFUSALS.get(refusal.kind, (f"qsub:  System error: {refusal.message}\n", SYSTEM))
