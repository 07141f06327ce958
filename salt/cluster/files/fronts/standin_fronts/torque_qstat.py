"""Torque's qstat over Slurm: the job table, and the full listing (-f, one line per
attribute with -1), completed jobs included as state C.

Torque's -x prints XML and is not played; like the other options this front does not
play (queues, servers, the alternative tables), it is refused with qstat's usage.
"""
import getopt
import time

from . import pbs_commands, pbs_ids, pbs_text, slurm, torque

OPTIONS = "f1tu:"


def main(argv):
    try:
        options, operands = getopt.getopt(argv, OPTIONS)
    except getopt.GetoptError:
        return pbs_commands.Answer(stderr=torque.QSTAT_USAGE, status=2)
    flags = {option for option, _ in options}
    values = dict(options)
    server = pbs_ids.server_name(torque.SERVER_VARIABLE)
    try:
        requested = pbs_commands.requested_jobs(torque, operands, False)
    except slurm.SlurmUnreachable:
        return pbs_commands.Answer(stderr=torque.unreachable("qstat", server),
                                   status=torque.QSTAT_UNREACHABLE)
    jobs, stderr, status = [], "", 0
    for operand, number, job in requested:
        if job is None:
            text, status = pbs_commands.lookup_failure(torque, operand, number, server)
            stderr += text
        elif "-u" not in flags or job.user in values["-u"].split(","):
            jobs.append(job)
    host = pbs_ids.host_name()
    sessions = slurm.batch_sessions() if any(job.state == "RUNNING" for job in jobs) else {}
    now = int(time.time())
    listed = [(pbs_ids.job_id(job.job_id, server),
               torque.attributes(job, server, host, sessions, now)) for job in jobs]
    if "-f" in flags:
        stdout = (pbs_text.one_line_listing(listed) if "-1" in flags
                  else pbs_text.full_listing(listed, torque.LINE_LIMIT))
    else:
        stdout = summary_table(listed)
    return pbs_commands.Answer(stdout=stdout, stderr=stderr, status=status)


def summary_table(listed):
    """display_statjob() of Torque 6. Its id column is wider than its header's (30
    against 25 characters), as Torque prints it; a long name keeps its tail."""
    if not listed:
        return ""
    rows = []
    for job_id, attributes in listed:
        values = dict(attributes)
        shown_id = job_id[:33] if len(job_id) > 27 else job_id
        rows.append(f"{shown_id:<30} {_tail(values['Job_Name']):<16} "
                    f"{values['Job_Owner'].split('@')[0][:15]:<15} "
                    f"{values.get('resources_used.cput', '0')[:8]:>8} {values['job_state']:>1} "
                    f"{values['queue']:<15}\n")
    return ("Job ID                    Name             User            Time Use S Queue\n"
            "------------------------- ---------------- --------------- -------- - -----\n"
            + "".join(rows))


def _tail(name):
    """get_summary_attributes(): "..." and the end of the name, from a slash if one is
    near enough, in 16 characters."""
    if len(name) <= 16:
        return name
    start = len(name) - 16 + 3
    slash = name.find("/", start)
    return ("..." + name[slash if slash != -1 else start:])[:16]
