"""A cluster profile together with its live SSH connection, scheduler adapter and stager.

Everything the handlers and the poller do on a cluster goes through here, so each action
is one command on the login node (the listing of all batch jobs, the exit files of all
jobs that left the queue, the checksums of all frames) rather than one per job.
"""
import hashlib
import logging
import os
import secrets
import shlex

from . import schedulers, staging
from .command_failures import check
from .batch_script import exit_file
from .errors import PermanentError, SubmittingElsewhere, TransientError
from .transport import Result, SshTransport

log = logging.getLogger(__name__)

# Prints "SIZE SHA256" or "missing" per argument, in order, so no file name is parsed.
_CHECKSUM_SCRIPT = ('for p; do if [ -f "$p" ]; then s=$(wc -c < "$p") && '
                    'h=$(sha256sum < "$p") && printf "%s %s\\n" "$s" "${h%% *}" || '
                    'echo unreadable; else echo missing; fi; done')
# The exit status of a submission command that found its attempt's marker already made.
_MARKER_EXISTS = 75
# Writes the agent token (first line of stdin) to $1, the log credential (the second) to
# $2 and the batch script (the rest) to $3, mode 0600, each through a temporary name ending
# in $4: workers resuming one attempt write the same files at once, and one's rename must
# not take the other's half. read and printf are the shell's own, so neither secret is on
# a command line.
_WRITE_ATTEMPT_FILES = ('umask 077 && IFS= read -r token && IFS= read -r credential && '
                        'printf %s "$token" > "$1.$4" && mv -f "$1.$4" "$1" && '
                        'printf %s "$credential" > "$2.$4" && mv -f "$2.$4" "$2" && '
                        'cat > "$3.$4" && mv -f "$3.$4" "$3"')
# The remote shell gets the whole command as one argument, and Linux refuses a single
# argument over 128 KiB (MAX_ARG_STRLEN): commands naming many files go in batches.
MAX_COMMAND_ARGUMENTS_BYTES = 64 * 1024
_EXIT_SCRIPT = ('for p; do if [ -f "$p" ]; then printf "%s\\n" "$(head -c 16 "$p")"; '
                'else echo missing; fi; done')


class Cluster:
    def __init__(self, profile, workdir):
        self.profile = profile
        self.name = profile.name
        self.transport = SshTransport(profile)
        self.scheduler = schedulers.for_profile(profile)
        self.stager = staging.for_profile(profile, self.transport, workdir)

    def run(self, command, stdin=None, timeout=None):
        return self.transport.run(command, stdin=stdin, timeout=timeout)

    def run_checked(self, command, action, stdin=None):
        """Run a command; a failure raises the error command_failures makes of it."""
        return check(self.run(command, stdin=stdin), f"{action} on cluster {self.name}")

    def batch_jobs(self):
        """Every batch job of the cluster user, in one scheduler command."""
        result = self.run(self.scheduler.list_command())
        if schedulers.is_empty_listing(self.scheduler, result):
            return []
        check(result, f"listing batch jobs on {self.name}")
        return self.scheduler.parse_list(result.stdout)

    def accounting(self, job_ids):
        """{id: BatchJob} from accounting for jobs that left the queue; {} if unavailable."""
        command = self.scheduler.accounting_command(job_ids) if job_ids else None
        if not command:
            return {}
        result = self.run(command)
        if result.status != 0:
            log.debug("no accounting on %s: %s", self.name, result.stderr.strip())
            return {}
        return {job.id: job for job in self.scheduler.parse_accounting(result.stdout)}

    def exit_codes(self, jobs):
        """{(job_id, attempt): exit status or None} from the exit files, in one command."""
        if not jobs:
            return {}
        paths = [exit_file(self.profile.job_dir(job_id), attempt) for job_id, attempt in jobs]
        lines = []
        for batch in argument_batches(paths):
            lines += self.run_checked(f"sh -c {shlex.quote(_EXIT_SCRIPT)} sh "
                                      + shlex.join(batch), "reading exit files").stdout.splitlines()
        codes = {}
        for key, line in zip(jobs, lines):
            line = line.strip()
            codes[key] = None if line == "missing" else (
                int(line) if line.lstrip("-").isdigit() else -1)
        return codes

    def submit(self, files, name, agent_token, log_credential, script):
        """Write the attempt's agent token, log credential and batch script, and hand the
        script to the scheduler at most once per attempt (``files``: JobFiles), all in one
        command on the login node. They come over stdin, so no secret is ever on a command
        line; every submitter of the attempt writes them (the same script, a token and a
        credential of its own, each valid; an empty credential when the API issued none).
        Then the same command creates the attempt's marker directory and, only if it
        created it, submits and leaves the scheduler's answer inside. Raises
        SubmittingElsewhere if the marker existed."""
        marker = shlex.quote(files.submission_marker)
        write = (f"sh -c {shlex.quote(_WRITE_ATTEMPT_FILES)} sh "
                 + shlex.join([files.token_file, files.log_credential_file, files.script,
                               secrets.token_hex(8)]))
        submit = self.scheduler.submit_command(files.script, name, files.stdout, files.stderr)
        command = (f"{write} || exit 1; "
                   f"mkdir -- {marker} 2>/dev/null || exit {_MARKER_EXISTS}; "
                   f"{submit} > {marker}/output 2>&1; s=$?; echo $s > {marker}/status.tmp && "
                   f"mv {marker}/status.tmp {marker}/status; cat {marker}/output; exit $s")
        result = self.run(command, stdin=f"{agent_token}\n{log_credential}\n{script}")
        if result.status == _MARKER_EXISTS and not result.stdout.strip():
            raise SubmittingElsewhere(f"{name} is being or was handed to the scheduler by "
                                      f"another command ({files.submission_marker})")
        return self._submitted_id(result, name)

    def _submitted_id(self, result, name):
        result = check(result, f"submitting {name} to {self.name}")
        try:
            return self.scheduler.parse_submit(result.stdout)
        except ValueError as error:
            raise TransientError(str(error))

    def submission_outcome(self, marker, name):
        """What became of the submission behind ``marker``: ("absent", None) when nothing
        was started, ("pending", age in seconds) while no answer is recorded, ("done",
        batch id), or ("refused", the error the recorded answer is). Raises
        TransientError only when the login node does not answer."""
        quoted = shlex.quote(marker)
        # Another submitter may remove the marker while this reads it (forget_submission):
        # a marker gone half-way reads as absent or as just made, never as a failure.
        result = self.run_checked(
            f"if s=$(cat {quoted}/status 2>/dev/null); then echo done; echo \"$s\"; "
            f"cat {quoted}/output 2>/dev/null; true; elif [ -d {quoted} ]; then "
            f"echo pending; echo $(( $(date +%s) - $(stat -c %Y {quoted} 2>/dev/null "
            f"|| date +%s) )); else echo absent; fi",
            f"reading the submission marker of {name}")
        lines = result.stdout.splitlines()
        if not lines or lines[0] == "absent":
            return "absent", None
        if lines[0] == "pending":
            return "pending", int(lines[1]) if len(lines) > 1 and lines[1].isdigit() else 0
        status = int(lines[1]) if len(lines) > 1 and lines[1].lstrip("-").isdigit() else 1
        try:
            return "done", self._submitted_id(Result(status, "\n".join(lines[2:]), ""), name)
        except (PermanentError, TransientError) as refusal:
            return "refused", refusal

    def forget_submission(self, marker):
        """Remove a marker whose submission reached no scheduler, so it can be tried again."""
        self.remove_tree(marker)

    def remove_tree(self, path):
        """Remove a file or a directory with everything in it, if it is there."""
        self.run_checked(f"rm -rf -- {shlex.quote(path)}", f"removing {path}")

    def cancel(self, job_ids):
        """Remove these batch jobs. One that ended meanwhile is as good as cancelled: qdel
        of a finished job exits 1 without a word (captured), which must not fail the
        user's job, so a refusal counts only while a job is still in the queue."""
        if not job_ids:
            return
        result = self.run(self.scheduler.cancel_command(sorted(job_ids)))
        if result.status == 0:
            return
        active = {b.id for b in self.batch_jobs() if b.active}
        if active & set(job_ids):
            check(result, f"cancelling batch jobs {', '.join(sorted(job_ids))} on {self.name}")

    def make_dirs(self, paths, mode="0700"):
        for batch in argument_batches(paths):
            self.run_checked(f"umask 077 && mkdir -p -m {mode} -- " + shlex.join(batch),
                             "creating directories")

    def checksums(self, paths):
        """{path: (size, sha256) or None if missing} for files on the cluster, in as few
        commands as the argument limit allows."""
        sums = {}
        for batch in argument_batches(paths):
            sums.update(self._checksum_batch(batch))
        return sums

    def _checksum_batch(self, paths):
        result = self.run_checked(f"sh -c {shlex.quote(_CHECKSUM_SCRIPT)} sh "
                                  + shlex.join(paths), "computing checksums")
        lines = result.stdout.splitlines()
        if len(lines) != len(paths):
            raise TransientError(f"checksums on {self.name}: expected {len(paths)} lines, "
                                 f"got {len(lines)}")
        sums = {}
        for path, line in zip(paths, lines):
            parts = line.split()
            if parts == ["missing"]:
                sums[path] = None
            elif len(parts) == 2 and parts[0].isdigit():
                sums[path] = (int(parts[0]), parts[1])
            else:
                raise PermanentError(f"cannot read {path} on cluster {self.name}")
        return sums

    def upload_verified(self, pairs):
        """Upload (local, remote) pairs, then compare size and SHA-256 on both sides."""
        expected = {local: file_checksum(local) for local, _ in pairs}
        self.stager.upload(pairs, sum(size for size, _ in expected.values()))
        remote = self.checksums([r for _, r in pairs])
        for local, path in pairs:
            if remote[path] != expected[local]:
                raise TransientError(f"{path} on cluster {self.name} does not match what was "
                                     f"sent ({remote[path]} != {expected[local]})")

    def download_verified(self, pairs, expected):
        """Download (remote, local) pairs and check each against ``expected[remote]``."""
        self.stager.download(pairs, sum(expected[path][0] for path, _ in pairs))
        for path, local in pairs:
            got = file_checksum(local)
            if got != expected[path]:
                os.unlink(local)
                raise TransientError(f"{path} from cluster {self.name} arrived damaged "
                                     f"({got} != {expected[path]})")

    def close(self):
        self.transport.close()


def argument_batches(paths, limit=MAX_COMMAND_ARGUMENTS_BYTES):
    """``paths`` in consecutive lists whose quoted command-line length stays under
    ``limit`` (a single longer path goes alone)."""
    batch, size = [], 0
    for path in paths:
        length = len(shlex.quote(path).encode()) + 1
        if batch and size + length > limit:
            yield batch
            batch, size = [], 0
        batch.append(path)
        size += length
    if batch:
        yield batch


def file_checksum(path):
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
