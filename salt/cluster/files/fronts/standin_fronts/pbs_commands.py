"""What qsub, qstat and qdel do in PBS Professional and Torque alike.

The flows are shared; every word printed and every exit status comes from the dialect
module (`pbspro`, `torque`), which holds its batch system's texts and codes.
"""
import dataclasses
import os

from . import pbs_ids, pbs_submission, slurm


@dataclasses.dataclass(frozen=True)
class Answer:
    stdout: str = ""
    stderr: str = ""
    status: int = 0


def qsub(dialect, argv, read_stdin):
    """Submit, print `NUMBER.SERVER`; a refusal in the dialect's words."""
    server = pbs_ids.server_name(dialect.SERVER_VARIABLE)
    try:
        request, script = pbs_submission.parse(argv, read_stdin, dialect.QSUB_OPTIONS,
                                               dialect.read_resource)
    except pbs_submission.IllegalOption as illegal:
        return Answer(stderr=dialect.qsub_illegal(illegal.option), status=2)
    except OSError as error:
        return Answer(stderr=dialect.qsub_unreadable_script(error), status=1)
    default_name = os.path.basename(request.script_path) if request.script_path else "STDIN"
    environment = pbs_submission.job_environment(request, request.name or default_name,
                                                 pbs_ids.host_name())
    try:
        number = slurm.submit(pbs_submission.sbatch_arguments(request, default_name),
                              None if request.script_path else script, environment)
    except slurm.SlurmUnreachable:
        return Answer(stderr=dialect.unreachable("qsub", server), status=dialect.QSUB_UNREACHABLE)
    except slurm.SlurmRefused as refusal:
        text, status = dialect.submission_refused(refusal, request)
        return Answer(stderr=text, status=status)
    job_id = pbs_ids.job_id(number, server)
    return Answer(stdout=f"{job_id}\n" if request.print_id else "")


def qdel(dialect, job_ids):
    """Delete each job; report each failure, exit with the last one's status."""
    server = pbs_ids.server_name(dialect.SERVER_VARIABLE)
    stderr, status = "", 0
    for text in job_ids:
        number = pbs_ids.number(text)
        if number is None:
            stderr += f"qdel: illegally formed job identifier: {text}\n"
            status = 1
            continue
        job_id = pbs_ids.job_id(number, server)
        try:
            failure = _delete(dialect, number, job_id)
        except slurm.SlurmUnreachable:
            return Answer(stderr=stderr + dialect.unreachable("qdel", server),
                          status=dialect.QDEL_UNREACHABLE)
        if failure:
            stderr += failure[0]
            status = failure[1]
    return Answer(stderr=stderr, status=status)


def _delete(dialect, number, job_id):
    job = slurm.jobs([number], with_history=dialect.REMEMBERS_FINISHED_JOBS).get(number)
    if job is None:
        return dialect.unknown_job("qdel", job_id)
    if job.ended:
        return dialect.qdel_ended(job_id)
    try:
        slurm.cancel(number)
    except slurm.SlurmRefused as refusal:
        if "already completing or completed" in refusal.message:
            return dialect.qdel_ended(job_id)
        if "Invalid job id" in refusal.message:
            return dialect.unknown_job("qdel", job_id)
        if "permission denied" in refusal.message.lower():
            return dialect.qdel_not_permitted(job_id)
        # As qdel prints whatever else the server answers: its text, then the id.
        return f"qdel: {refusal.message} {job_id}\n", dialect.SYSTEM
    return None


def requested_jobs(dialect, operands, with_history):
    """[(operand, job number, job)] in the order asked, for `qstat ID...`: the number is
    None for an ill-formed id, the job None for one Slurm does not know. Without
    operands, every job Slurm knows. A dialect that remembers finished jobs looks every
    id up in the accounting database too, so as to tell a finished job from an unknown one."""
    numbers = [pbs_ids.number(text) for text in operands]
    known = slurm.jobs([number for number in numbers if number is not None] if operands else None,
                       with_history=with_history or bool(operands) and dialect.REMEMBERS_FINISHED_JOBS)
    if not operands:
        return [(None, job.job_id, job) for job in sorted(known.values(), key=lambda job: job.job_id)]
    return [(text, number, known.get(number)) for text, number in zip(operands, numbers)]


def lookup_failure(dialect, operand, number, server):
    """(text, status) for an id qstat cannot show, or None."""
    if number is None:
        return f"qstat: illegally formed job identifier: {operand}\n", 1
    return dialect.unknown_job("qstat", pbs_ids.job_id(number, server))
