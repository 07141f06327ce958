"""The one classification of a command that failed on the login node, scheduler commands
(sbatch, qsub, squeue, qstat, sacct, scancel, qdel) and plain ones (mkdir, cat, sha256sum)
alike.

A failure that the SSH connection itself causes never gets here: the transport raises
TransientError for it. What remains has an exit status and the command's own words:

- transient when they say a file system is full or a quota exhausted (checked first): the
  scratch space and its quota are shared by every job of the cluster account, so the space
  is most likely another job's, and it comes back when that job's files are collected and
  removed. Failing this job for it would let one job's output fail everyone else's
  stage-in. The same holds for the worker's own disk and for the transfers
  (DISK_FULL_ERRNOS, staging.py);
- permanent when the words say the request cannot succeed as it is: permissions, a
  read-only file system (checked next, since such a message may also say "try again");
- a queue limit when the scheduler refused a submission because the user (or the
  account) has as many jobs queued as it allows: the job waits its turn
  (QueueLimitReached), since the limit frees itself as jobs end;
- transient when they say the login node or the scheduler is busy or briefly
  unreachable, or a shared file system hiccupped, or when no exit status came back. For
  a submission these are unclear failures: the scheduler may have created the job all the
  same (Slurm's "Socket timed out", PBS's "Premature end of message"), so the submitter
  looks the attempt up before it submits again (handlers.py);
- permanent otherwise: a scheduler rejecting the request (invalid partition, a job larger
  than the queue allows, an ACL) or a command that failed for a reason nobody foresaw.
  Retrying cannot mend an unknown cause, and a retried command is requeued without end,
  holding the job; failing it puts the command's words in front of a person who can act
  on them.

Tested against captured outputs (tests/worker/captures) and messages other projects
recorded on Slurm, PBS Professional, OpenPBS and Torque sites.
"""
import errno
import re

from .errors import DiskFull, PermanentError, QueueLimitReached, TransientError

# strerror(ENOSPC) and strerror(EDQUOT), as GNU tools, sftp-server and GridFTP print them.
DISK_FULL = re.compile(r"no space left on device|disk quota exceeded", re.IGNORECASE)
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_PERMANENT = re.compile(
    r"permission denied|operation not permitted|unauthorized request|read-only file system",
    re.IGNORECASE)
# Slurm names the limit on the line before its generic "Job violates accounting/QOS
# policy" (which size and time limits share, and which stays permanent); PBS Professional
# (pbs_messages.c, msg_et_*) and Torque (PBSE_MAXQUED, PBSE_MAXUSERQUED) say it in words.
_QUEUE_LIMIT = re.compile(
    r"\b(?:QOS|Assoc)(?:Max|Grp)SubmitJobs?(?:Per(?:User|Account))?Limit\b|"
    r"would exceed [^\n]*'s per-(?:user|group|project) limit|"
    r"maximum number of jobs (?:for user \S+ )?already in queue",
    re.IGNORECASE)
_TRANSIENT = re.compile(
    r"socket timed out|unable to contact slurm controller|slurm_load_jobs error: "
    r"(?:socket|unable|connection|communication)|connection refused|connection reset|"
    r"timed out|resource temporarily unavailable|temporarily unable|try again|too busy|"
    r"cannot connect to server|communication connection failure|communication failure|"
    r"end of file|premature end of message|invalid credential|pbs_iff: cannot connect|"
    r"reserved ports in use|request invalid for state of job|server internal error|"
    r"input/output error|stale file handle|transport endpoint is not connected|"
    r"cannot allocate memory",
    re.IGNORECASE)


def failure(result, action):
    """The error a failed command's ``result`` amounts to, or None if it succeeded."""
    if result.status == 0:
        return None
    text = " ".join((result.stderr + " " + result.stdout).split())
    message = f"{action} failed (exit {result.status}): {text or 'no output'}"
    if DISK_FULL.search(text):
        return DiskFull(message)
    if _PERMANENT.search(text):
        return PermanentError(message)
    if _QUEUE_LIMIT.search(text):
        return QueueLimitReached(message)
    # paramiko reports -1 when the server closed the channel without an exit status.
    if result.status < 0 or _TRANSIENT.search(text):
        return TransientError(message)
    return PermanentError(message)


def check(result, action):
    """``result`` if the command succeeded; else raise the error it amounts to."""
    error = failure(result, action)
    if error is not None:
        raise error
    return result
