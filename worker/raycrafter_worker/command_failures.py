"""The one classification of a command that failed on the login node, scheduler commands
(sbatch, qsub, squeue, qstat, scancel, qdel) and plain ones (mkdir, cat, sha256sum) alike.

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
- transient when they say the login node or the scheduler is busy or briefly
  unreachable, or a shared file system hiccupped, or when no exit status came back;
- permanent otherwise: a scheduler rejecting the request (invalid partition, exceeded
  limits, an ACL) or a command that failed for a reason nobody foresaw. Retrying cannot
  mend an unknown cause, and a retried command is requeued without end, holding the job;
  failing it puts the command's words in front of a person who can act on them.

Tested against captured outputs (tests/worker/captures).
"""
import errno
import re

from .errors import DiskFull, PermanentError, TransientError

# strerror(ENOSPC) and strerror(EDQUOT), as GNU tools, sftp-server and GridFTP print them.
DISK_FULL = re.compile(r"no space left on device|disk quota exceeded", re.IGNORECASE)
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_PERMANENT = re.compile(
    r"permission denied|operation not permitted|unauthorized request|read-only file system",
    re.IGNORECASE)
_TRANSIENT = re.compile(
    r"socket timed out|unable to contact slurm controller|slurm_load_jobs error: "
    r"(?:socket|unable|connection|communication)|connection refused|connection reset|"
    r"timed out|resource temporarily unavailable|temporarily unable|try again|too busy|"
    r"cannot connect to server|communication connection failure|end of file|"
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
