"""PBS Professional as the stand-in speaks it: OpenPBS 23.06's texts, codes and attributes.

Sources: OpenPBS's own code (src/cmds/qstat.c, qsub.c, qdel.c, src/include/pbs_error.h,
src/lib/Liblog/pbs_messages.c, src/server/svr_jobfunc.c) and what real servers printed
(tests/worker/captures/real, ../shared/captures/pbs). A client exits with the server's
error number & 0xff, so PBSE_UNKJOBID (15001) exits 153.
"""
import time

from . import pbs_jobs, pbs_submission, pbs_text, slurm

SERVER_VARIABLE = "PBS_SERVER"
VERSION = "23.06.06"
LINE_LIMIT = 78
QSUB_OPTIONS = "A:e:hj:l:N:o:q:r:v:VW:z"
# Finished jobs stay in the server's history (job_history_enable) while Slurm remembers them.
REMEMBERS_FINISHED_JOBS = True

UNKJOBID, PERM, SYSTEM, PROTOCOL, UNKQUE, EXCQRESC, HISTJOBID, ENTLIMCT = (
    153, 159, 162, 183, 170, 188, 35, 38)
BADACCT, BADDEPEND = 201, 206
QSUB_UNREACHABLE = QDEL_UNREACHABLE = SYSTEM
# qstat exits with its negative connection handle when it cannot connect.
QSTAT_UNREACHABLE = 255

STATE_LETTERS = {pbs_jobs.QUEUED: "Q", pbs_jobs.HELD: "H", pbs_jobs.WAITING: "W",
                 pbs_jobs.RUNNING: "R", pbs_jobs.SUSPENDED: "S", pbs_jobs.EXITING: "E",
                 pbs_jobs.ENDED: "F"}
# OpenPBS src/include/job.h JOB_SUBSTATE_*.
SUBSTATES = {pbs_jobs.QUEUED: 10, pbs_jobs.HELD: 20, pbs_jobs.WAITING: 30,
             pbs_jobs.RUNNING: 42, pbs_jobs.SUSPENDED: 43, pbs_jobs.EXITING: 50}
DEPENDENCY_HELD, TERMINATED, FINISHED, FAILED = 22, 91, 92, 93
# What the execution host records for a job it ended itself (JOB_EXEC_* in job.h), and the
# words the server appends to the job's comment for it (update_job_finish_comment()).
KILLED_AT_LIMIT = {"TIMEOUT": (-29, "walltime"), "OUT_OF_MEMORY": (-27, "mem")}
LOST = {"NODE_FAIL": -20, "BOOT_FAIL": -1}
# Slurm's end states that mean the job was deleted (qdel, preemption, a deadline).
DELETED = frozenset({"CANCELLED", "PREEMPTED", "DEADLINE", "REVOKED"})


def exit_status(job):
    """Exit_status: none until the job ends, none for a job deleted before it ran."""
    if not job.ended or not job.ran:
        return None
    if job.state in KILLED_AT_LIMIT:
        return KILLED_AT_LIMIT[job.state][0]
    if job.state in LOST:
        return LOST[job.state]
    return pbs_jobs.signal_or_code(job)


def substate(job):
    phase = pbs_jobs.phase(job)
    if phase == pbs_jobs.HELD and job.reason == "Dependency":
        return DEPENDENCY_HELD
    if phase != pbs_jobs.ENDED:
        return SUBSTATES[phase]
    if job.state in DELETED:
        return TERMINATED
    return FINISHED if exit_status(job) == 0 else FAILED


def exec_host(job):
    return "+".join(f"{node.node}/0*{node.cpus}" if node.cpus > 1 else f"{node.node}/0"
                    for node in job.allocation)


def exec_vnode(job):
    return "+".join(f"({node.node}:ncpus={node.cpus})" for node in job.allocation)


def comment(job, host):
    """The scheduler's and server's comment: where the job ran and how it ended."""
    if not job.ran:
        return None
    started = time.strftime("%a %b %d at %H:%M", time.localtime(job.start_time))
    text = f"Job run at {started} on {exec_vnode(job)}"
    if not job.ended:
        return text
    if job.state in DELETED:
        return text + (f" and terminated by {job.cancelled_by}@{host}" if job.cancelled_by
                       else " and terminated")
    if job.state in KILLED_AT_LIMIT:
        return f"{text} and exceeded resource {KILLED_AT_LIMIT[job.state][1]}"
    return text + (" and finished" if exit_status(job) == 0 else " and failed")


def resource_list(job):
    per_node = pbs_jobs.cpus_per_node(job)
    nodes = job.node_count or 1
    resources = []
    select = f"{nodes}:ncpus={per_node}"
    if job.tasks_per_node:
        resources.append(("mpiprocs", str(job.tasks_per_node * nodes)))
        select += f":mpiprocs={job.tasks_per_node}"
    resources += [("ncpus", str(per_node * nodes)), ("nodect", str(nodes)),
                  ("place", "scatter:excl" if job.exclusive else "scatter"), ("select", select)]
    if job.time_limit_minutes is not None:
        resources.append(("walltime", pbs_text.duration(job.time_limit_minutes * 60)))
    return resources


def resources_used(job, now):
    """What the server last heard from the execution host. Slurm gathers no usage on the
    stand-in (JobAcctGatherType=jobacct_gather/none), so only CPUs and walltime are real."""
    return [("cpupercent", "0"), ("cput", "00:00:00"), ("mem", "0kb"),
            ("ncpus", str(sum(node.cpus for node in job.allocation) or job.cpus or 1)),
            ("vmem", "0kb"), ("walltime", pbs_text.duration(pbs_jobs.elapsed(job, now)))]


def attributes(job, server, host, sessions, now):
    """[(name, value)] in the order OpenPBS prints a job's attributes; a resource's name
    is `Resource_List.ncpus`. `sessions` maps job ids to their batch shell's pid."""
    phase = pbs_jobs.phase(job)
    listed = [("Job_Name", job.name), ("Job_Owner", pbs_jobs.owner(job, host))]
    if job.ran:
        listed += [(f"resources_used.{name}", value) for name, value in resources_used(job, now)]
    listed += pbs_jobs.queue_attributes(job, server, STATE_LETTERS[phase])
    listed.append(("Error_Path", pbs_jobs.error_path(job, host)))
    if job.ran:
        listed += [("exec_host", exec_host(job)), ("exec_vnode", exec_vnode(job))]
    listed += pbs_jobs.handling_attributes(job, host)
    listed += [(f"Resource_List.{name}", value) for name, value in resource_list(job)]
    if job.ran:
        listed.append(("stime", pbs_text.timestamp(job.start_time)))
        if job.ended:
            listed.append(("obittime", pbs_text.timestamp(job.end_time)))
        listed += [("session_id", pbs_jobs.session_id(job, sessions)), ("jobdir", pbs_jobs.home(job))]
    listed += [("substate", str(substate(job))),
               ("Variable_List", ",".join(f"{name}={value}" for name, value
                                          in pbs_jobs.variable_list(job, host))),
               ("comment", comment(job, host))]
    if job.eligible_time and phase != pbs_jobs.HELD:
        listed.append(("etime", pbs_text.timestamp(job.eligible_time)))
    if job.ran:
        listed.append(("run_count", str(job.restarts + 1)))
        if job.ended:
            listed.append(("Stageout_status", "1"))
    status = exit_status(job)
    listed += [("Exit_status", None if status is None else str(status)),
               ("Submit_arguments", pbs_jobs.submit_arguments(job))]
    if job.ended:
        listed.append(("history_timestamp", str(job.end_time)))
    listed += [("project", "_pbs_project_default"), ("Submit_Host", host)]
    return [(name, value) for name, value in listed if value not in (None, "")]


def read_resource(request, key, value):
    """`-l` as PBS Professional takes it: one select chunk, or ncpus, or Torque's
    nodes=N:ppn=C (which the server turns into a select); walltime; place."""
    if key == "select":
        count, _, rest = value.partition(":")
        request.chunks = pbs_submission.chunk_count(count)
        for item in filter(None, rest.split(":")):
            name, equals, setting = item.partition("=")
            if not equals or not setting.isdigit() or name not in ("ncpus", "mpiprocs",
                                                                  "ompthreads"):
                raise pbs_submission.IllegalOption("l")
            if name == "ncpus":
                request.ncpus = int(setting)
            elif name == "mpiprocs":
                request.mpiprocs = int(setting)
    elif key == "ncpus":
        request.ncpus = pbs_submission.chunk_count(value)
    elif key == "nodes":
        count, _, ppn = value.partition(":ppn=")
        request.chunks = pbs_submission.chunk_count(count)
        request.ncpus = pbs_submission.chunk_count(ppn) if ppn else 1
    elif key == "walltime":
        request.walltime = pbs_submission.seconds(value)
    elif key == "place":
        if not set(value.split(":")) <= {"free", "pack", "scatter", "vscatter", "excl",
                                         "shared", "exclhost"}:
            raise pbs_submission.IllegalOption("l")
        request.exclusive = "excl" in value.split(":") or "exclhost" in value.split(":")
    else:
        raise pbs_submission.IllegalOption("l")


# ---- what the commands print when they cannot do what was asked

QSUB_USAGE = (
    "usage: qsub [-a date_time] [-A account_string] [-c interval]\n"
    "\t[-C directive_prefix] [-e path] [-f ] [-h ] [-I [-X]] [-j oe|eo] [-J X-Y[:Z]]\n"
    "\t[-k keep] [-l resource_list] [-m mail_options] [-M user_list]\n"
    "\t[-N jobname] [-o path] [-p priority] [-P project] [-q queue] [-r y|n]\n"
    "\t[-R o|e|oe] [-S path] [-u user_list] [-W otherattributes=value...]\n"
    "\t[-v variable_list] [-V ] [-z] [script | -- command [arg1 ...]]\n"
    "       qsub --version\n")
QSTAT_USAGE = (
    "usage: \n"
    "qstat [-f] [-J] [-p] [-t] [-x] [-E] [-F format | -w] [-D delim] [ job_identifier... "
    "| destination... ]\n"
    "qstat [-a|-i|-r|-H|-T] [-J] [-t] [-u user] [-n] [-s] [-G|-M] [-1] [-w]\n"
    "\t[ job_identifier... | destination... ]\n"
    "qstat -Q [-f] [-F format] [-D delim] [ destination... ]\n"
    "qstat -q [-G|-M] [ destination... ]\n"
    "qstat -B [-f] [-F format] [-D delim] [ server_name... ]\n"
    "qstat --version\n")
QDEL_USAGE = ("usage:\n"
              "\tqdel [-W force|suppress_email=X] [-x] job_identifier...\n"
              "\tqdel --version\n")


def qsub_illegal(option):
    """qsub names a bad option's value and prints its usage (exit 2)."""
    known = option in QSUB_OPTIONS.replace(":", "")
    return (f"qsub: illegal -{option} value\n" if known else
            f"qsub: invalid option -- '{option}'\n") + QSUB_USAGE


def qsub_unreadable_script(error):
    return f"qsub: script file:: {error.strerror}\n"


def unreachable(command, server):
    """pbs_connect() failing with ECONNREFUSED: perror(), then the command's own line."""
    if command == "qdel":
        return f"Connection refused\nCouldn't connect to cluster: {server}\n"
    return f"Connection refused\n{command}: cannot connect to server {server} (errno=15010)\n"


def unknown_job(command, job_id):
    return f"{command}: Unknown Job Id {job_id}\n", UNKJOBID


def finished_job(job_id):
    """qstat without -x for a job in the history (qstat.c, PBSE_HISTJOBID)."""
    return (f"qstat: {job_id} Job has finished, use -x or -H to obtain historical job "
            "information\n", HISTJOBID)


def qdel_ended(job_id):
    """Deleting a finished job; clients that delete what may have ended accept it."""
    return f"qdel: Job has finished {job_id}\n", HISTJOBID


def qdel_not_permitted(job_id):
    # msg_perm ends with a space, and qdel adds one before the id.
    return f"qdel: Unauthorized Request  {job_id}\n", PERM


# Slurm's refusals of a submission in the words the PBS server would have used.
REFUSALS = {
    slurm.UNKNOWN_PARTITION: ("qsub: Unknown queue\n", UNKQUE),
    # msg_et_guq has one %s for two arguments, so the queue is always "generic".
    slurm.USER_LIMIT: ("qsub: would exceed queue generic's per-user limit\n", ENTLIMCT),
    slurm.ACCOUNT_USER_LIMIT: ("qsub: would exceed complex's per-user limit\n", ENTLIMCT),
    slurm.BAD_ACCOUNT: ("qsub: Invalid Account\n", BADACCT),
    slurm.BAD_DEPENDENCY: ("qsub: Invalid Job Dependency\n", BADDEPEND),
    slurm.BUSY: ("qsub: Premature end of message\n", PROTOCOL),
    slurm.OVER_LIMITS: ("qsub: Job violates queue and/or server resource limits\n", EXCQRESC),
}


def submission_refused(refusal, request):
    if refusal.kind == slurm.TOTAL_LIMIT:
        queue = request.queue or slurm.default_partition()
        return f"qsub: Maximum number of jobs already in queue {queue}\n", ENTLIMCT
    return REFUSALS.get(refusal.kind, (f"qsub: System error: {refusal.message}\n", SYSTEM))
