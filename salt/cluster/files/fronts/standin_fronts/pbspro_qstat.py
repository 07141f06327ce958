"""PBS Professional's qstat over Slurm: the default table, the alternative table (-a, -H,
-u), the full listing (-f) in text or JSON (-F json), with history (-x).

Finished jobs are shown only with -x or -H (the server's job history); asked for by id
without them, qstat says the job has finished and exits 35. Options this front does not
play (queues, servers, arrays, DSV) are refused with qstat's usage, as a mistyped option is.
"""
import getopt
import time

from . import pbs_commands, pbs_ids, pbs_text, pbspro, pbspro_json, pbspro_tables, slurm

OPTIONS = "afF:EHtu:wx"
CONFLICT = "qstat: conflicting options.\n"


def main(argv):
    if argv == ["--version"]:
        return pbs_commands.Answer(stdout=f"pbs_version = {pbspro.VERSION}\n")
    try:
        options, operands = getopt.getopt(argv, OPTIONS)
    except getopt.GetoptError as error:
        return pbs_commands.Answer(stderr=f"qstat: invalid option -- '{error.opt}'\n"
                                   + pbspro.QSTAT_USAGE, status=2)
    flags = {option for option, _ in options}
    values = dict(options)
    json_format = values.get("-F", "").lower() == "json"
    alternative = bool(flags & {"-a", "-H", "-u"})
    conflict = _conflict(flags, values, json_format, alternative)
    if conflict:
        return pbs_commands.Answer(stderr=conflict + pbspro.QSTAT_USAGE, status=2)
    history = bool(flags & {"-x", "-H"})
    server = pbs_ids.server_name(pbspro.SERVER_VARIABLE)
    try:
        requested = pbs_commands.requested_jobs(pbspro, operands, history)
    except slurm.SlurmUnreachable:
        return pbs_commands.Answer(
            stdout=pbspro_json.document(int(time.time()), pbspro.VERSION, server, [])
            if json_format else "",
            stderr=pbspro.unreachable("qstat", server), status=pbspro.QSTAT_UNREACHABLE)
    shown, stderr, status = [], "", 0
    for operand, number, job in requested:
        if job is None:
            text, status = pbs_commands.lookup_failure(pbspro, operand, number, server)
            stderr += text
            continue
        if job.ended and not history:
            if operands:
                text, status = pbspro.finished_job(pbs_ids.job_id(job.job_id, server))
                stderr += text
            continue
        if "-H" in flags and not job.ended:
            continue
        if "-u" in flags and job.user not in values["-u"].split(","):
            continue
        shown.append(job)
    listed = _listed(shown, server)
    if json_format:
        stdout = pbspro_json.document(int(time.time()), pbspro.VERSION, server, listed)
    elif "-f" in flags and not alternative:
        stdout = pbs_text.full_listing(listed, pbspro.LINE_LIMIT)
    elif alternative:
        stdout = pbspro_tables.alternative_table(
            [(job_id, dict(attributes)) for job_id, attributes in listed], server, "-w" in flags)
    else:
        stdout = pbspro_tables.default_table(
            [(job_id, dict(attributes)) for job_id, attributes in listed], "-w" in flags)
    return pbs_commands.Answer(stdout=stdout, stderr=stderr, status=status)


def _conflict(flags, values, json_format, alternative):
    if "-F" in values and not json_format:
        return f"qstat: invalid output format {values['-F']}\n"
    if "-w" in flags and "-F" in values:
        return "qstat: option w cannot be used with -F\n"
    if "-F" in values and ("-f" not in flags or alternative):
        return CONFLICT
    return None


def _listed(jobs, server):
    host = pbs_ids.host_name()
    sessions = slurm.batch_sessions() if any(job.state == "RUNNING" for job in jobs) else {}
    now = int(time.time())
    return [(pbs_ids.job_id(job.job_id, server),
             pbspro.attributes(job, server, host, sessions, now)) for job in jobs]
