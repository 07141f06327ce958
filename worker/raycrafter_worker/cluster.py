"""A cluster profile together with its live SSH connection, scheduler adapter and stager.

Everything the handlers and the poller do on a cluster goes through here, so each action
is one command on the login node (the listing of all batch jobs, the exit files of all
jobs that left the queue, the checksums of all frames) rather than one per job.
"""
import dataclasses
import hashlib
import logging
import os
import secrets
import shlex
import time

from . import gateway, metrics, schedulers, staging
from .batch_script import LAUNCHER_MESSAGES, JobFiles
from .command_failures import check
from .errors import PermanentError, QueueLimitReached, SubmittingElsewhere, TransientError
from .queue_lock import QueueLock
from .queue_turns import TurnRecord
from .schedulers import QUEUED, RUNNING, UnreadableListing
from .transport import Result, SshTransport

log = logging.getLogger(__name__)

# Prints "SIZE SHA256" or "missing" per argument, in order, so no file name is parsed.
_CHECKSUM_SCRIPT = ('for p; do if [ -f "$p" ]; then s=$(wc -c < "$p") && '
                    'h=$(sha256sum < "$p") && printf "%s %s\\n" "$s" "${h%% *}" || '
                    'echo unreadable; else echo missing; fi; done')
# The exit status of a submission command that found its attempt's marker already made;
# of one whose queue lock was broken as stale before it called the scheduler; of a queue
# lock that stayed taken.
_MARKER_EXISTS = 75
_LOCK_LOST = 77
_LOCK_BUSY = 76
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
# For each logs/batch-K prefix: "exit STATUS" (or "exit missing") from the exit file, then
# up to 3 "said LINE" lines, the last lines of its .err and .out (their last 64 KiB) that
# match the launchers' failure messages ($0, an extended regular expression).
_ENDINGS_SCRIPT = ('for p; do if [ -f "$p.exit" ]; then printf "exit %s\\n" '
                   '"$(head -c 16 "$p.exit")"; else echo "exit missing"; fi; '
                   'for f in "$p.err" "$p.out"; do tail -c 65536 "$f" 2>/dev/null; done '
                   '| grep -aE -e "$0" | tail -n 3 | cut -c 1-300 | sed "s/^/said /"; done')


@dataclasses.dataclass(frozen=True)
class ScriptEnding:
    """How a batch script ended, as its files tell: its exit status (None before it
    ended) and what the launcher said about a failure, if anything."""

    status: int | None
    said: tuple


class Cluster:
    """``transport`` and ``stager`` are the login node over SSH unless given: the site
    agent, on the login node, gives its own (local_transport.py)."""

    def __init__(self, profile, workdir, transport=None, stager=None):
        self.profile = profile
        self.name = profile.name
        self.transport = transport or SshTransport(profile)
        self.scheduler = schedulers.for_profile(profile)
        self.stager = stager or staging.for_profile(profile, self.transport, workdir)
        # Which of a question's forms to start with: one the scheduler refused (an older
        # PBS without JSON) is not asked again.
        self._first_form = {}
        metrics.known_cluster(self.name)

    def run(self, command, stdin=None, timeout=None):
        started = time.monotonic()
        try:
            result = self.transport.run(command, stdin=stdin, timeout=timeout)
        except (TransientError, PermanentError):
            metrics.SSH_COMMAND_FAILURES.labels(self.name).inc()
            raise
        metrics.SSH_COMMAND_SECONDS.labels(self.name).observe(time.monotonic() - started)
        return result

    def run_checked(self, command, action, stdin=None):
        """Run a command; a failure raises the error command_failures makes of it."""
        return check(self.run(command, stdin=stdin), f"{action} on cluster {self.name}")

    def batch_jobs(self):
        """Every batch job of the cluster user, in one scheduler command."""
        jobs = self._ask("listing", self.scheduler.list_commands(), self.scheduler.parse_list)
        ours = [job.state for job in jobs if self.profile.is_our_batch_name(job.name)]
        metrics.count_batch_jobs(self.name, queued=ours.count(QUEUED),
                                 running=ours.count(RUNNING))
        return jobs

    def accounting(self, job_ids):
        """{id: BatchJob} from the scheduler's records of jobs that left the queue (Slurm's
        accounting, a PBS server's history); {} where it keeps none or cannot answer."""
        commands = self.scheduler.accounting_commands(sorted(set(job_ids))) if job_ids else []
        if not commands:
            return {}
        try:
            jobs = self._ask("accounting", commands, self.scheduler.parse_accounting)
        except (TransientError, PermanentError) as error:
            log.debug("no records of %s on %s: %s", ", ".join(job_ids), self.name, error)
            return {}
        return {job.id: job for job in jobs}

    def _ask(self, question, commands, parse):
        """The answer of the first of ``commands`` that can be read. A form the scheduler
        refused is skipped from then on; one whose answer could not be read this time
        (invalid JSON) is asked again next time. A busy or unreachable scheduler is not
        asked the next form."""
        first = self._first_form.get(question, 0)
        for index, command in enumerate(commands[first:], start=first):
            last = index == len(commands) - 1
            try:
                return parse(self.run(command))
            except UnreadableListing as error:
                if last:
                    raise TransientError(f"{question} on cluster {self.name}: {error}")
                log.info("%s on %s: %s; asking again in another form", question,
                         self.name, error)
            except PermanentError as error:
                if last:
                    raise
                log.info("%s on %s: %s; using another form from now on", question,
                         self.name, error)
                self._first_form[question] = index + 1
        return []

    def script_endings(self, jobs):
        """{(job_id, attempt): ScriptEnding} from the exit files the batch scripts write and
        the launcher's last words in the batch jobs' output, in one command."""
        if not jobs:
            return {}
        prefixes = [JobFiles(self.profile.job_dir(job_id), attempt).logs_prefix
                    for job_id, attempt in jobs]
        lines = []
        for batch in argument_batches(prefixes):
            lines += self.run_checked(
                f"sh -c {shlex.quote(_ENDINGS_SCRIPT)} {shlex.quote(LAUNCHER_MESSAGES)} "
                + shlex.join(batch), "reading exit files").stdout.splitlines()
        endings = []
        for line in lines:
            kind, _, value = line.partition(" ")
            if kind == "exit":
                value = value.strip()
                endings.append(ScriptEnding(
                    None if value == "missing" else
                    int(value) if value.lstrip("-").isdigit() else -1, ()))
            elif kind == "said" and endings:
                endings[-1] = ScriptEnding(endings[-1].status,
                                           endings[-1].said + (value.strip(),))
        if len(endings) != len(jobs):
            raise TransientError(f"reading exit files on {self.name}: expected "
                                 f"{len(jobs)} answers, got {len(endings)}")
        return dict(zip(jobs, endings))

    def submit(self, files, name, agent_token, log_credential, script, owner):
        """Write the attempt's agent token, log credential and batch script, and hand the
        script to the scheduler at most once per attempt (``files``: JobFiles), all in one
        command on the login node. They come over stdin, so no secret is ever on a command
        line; every submitter of the attempt writes them (the same script, a token and a
        credential of its own, each valid; an empty credential when the API issued none).
        Then the same command creates the attempt's marker directory and, only if it
        created it, submits and leaves the scheduler's answer inside. Raises
        SubmittingElsewhere if the marker existed. A submission the scheduler accepted is
        a turn of the job's ``owner`` (queue_turns.py).

        Under a profile's ``max_queued_jobs`` the submission holds the cluster's queue
        lock from counting our batch jobs until the scheduler has answered, so several
        workers never hold more between them; QueueLimitReached when none is free."""
        self.ensure_gateway()
        limit = self.profile.max_queued_jobs
        if not limit:
            return self._hand_over(files, name, agent_token, log_credential, script, owner,
                                   None)
        lock = QueueLock(self.profile, secrets.token_hex(8))
        self._take(lock, name)
        handing_over = False
        try:
            taken = self.places_taken(self.batch_jobs())
            if taken >= limit:
                raise QueueLimitReached(
                    f"cluster {self.name} holds {taken} batch job(s) of this appliance, "
                    f"as many as its profile allows (max_queued_jobs = {limit})")
            handing_over = True
            return self._hand_over(files, name, agent_token, log_credential, script, owner,
                                   lock)
        finally:
            if not handing_over:
                self._release(lock)

    def ensure_gateway(self):
        """Where the compute nodes have no way out, start the login node's gateway unless
        it runs (gateway.py); nothing for a profile without one."""
        if self.profile.gateway_host:
            self.run_checked(gateway.ensure_command(self.profile),
                             f"starting the gateway of cluster {self.name}")

    def places_taken(self, jobs):
        """How many of this appliance's batch jobs are queued or running."""
        return sum(1 for job in jobs if job.active and self.profile.is_our_batch_name(job.name))

    def _release(self, lock):
        try:
            self.run(lock.release_command())
        except TransientError as error:  # the lease frees it
            log.warning("cannot release the queue lock of %s: %s", self.name, error)

    def _take(self, lock, name):
        result = self.run(lock.take_command(_LOCK_BUSY))
        if result.status == _LOCK_BUSY:
            raise TransientError(f"submitting {name}: another submission has held the queue "
                                 f"lock of cluster {self.name} ({lock.path}) too long")
        check(result, f"taking the queue lock of cluster {self.name}")

    def last_turns(self):
        """{owner_key: when the owner last had a turn on this cluster} (queue_turns.py)."""
        return TurnRecord.parse(self.run_checked(TurnRecord(self.profile).read_command(),
                                                 "reading the queue's turns").stdout)

    def _hand_over(self, files, name, agent_token, log_credential, script, owner, lock):
        marker = shlex.quote(files.submission_marker)
        write = (f"sh -c {shlex.quote(_WRITE_ATTEMPT_FILES)} sh "
                 + shlex.join([files.token_file, files.log_credential_file, files.script,
                               secrets.token_hex(8)]))
        submit = self.scheduler.submit_command(files.script, name, files.stdout, files.stderr)
        release = lock.release_command() if lock else ":"
        still_held = f"{lock.held_test()} || exit {_LOCK_LOST}; " if lock else ""
        command = (f"{write} || {{ {release}; exit 1; }}; {still_held}"
                   f"mkdir -- {marker} 2>/dev/null || {{ {release}; exit {_MARKER_EXISTS}; }}; "
                   f"{submit} > {marker}/output 2> {marker}/errors; s=$?; "
                   f"echo $s > {marker}/status.tmp && mv {marker}/status.tmp {marker}/status; "
                   f"if [ $s = 0 ]; then {TurnRecord(self.profile).append_command(owner)}; fi; "
                   f"{release}; cat {marker}/output; cat {marker}/errors >&2; exit $s")
        result = self.run(command, stdin=f"{agent_token}\n{log_credential}\n{script}")
        if result.status == _MARKER_EXISTS and not result.stdout.strip():
            raise SubmittingElsewhere(f"{name} is being or was handed to the scheduler by "
                                      f"another command ({files.submission_marker})")
        if result.status == _LOCK_LOST and not result.stdout.strip():
            raise TransientError(f"submitting {name}: the queue lock of cluster {self.name} "
                                 f"was broken as stale before the scheduler was called")
        try:
            batch_id = self._submitted_id(result, name)
        except (PermanentError, TransientError, QueueLimitReached):
            metrics.SUBMISSIONS_REFUSED.labels(self.name).inc()
            raise
        metrics.SUBMISSIONS.labels(self.name).inc()
        return batch_id

    def _submitted_id(self, result, name):
        result = check(result, f"submitting {name} to {self.name}")
        try:
            return self.scheduler.parse_submit(result.stdout)
        except ValueError as error:
            raise TransientError(str(error))

    def submission_outcome(self, files, name):
        """What became of the attempt's submission: ("absent", None) when nothing was
        started, ("pending", age in seconds) while no answer is recorded, ("done", batch
        id), or ("refused", the error the recorded answer is). A batch job of the attempt
        that already started says "done" whatever the marker holds: the scheduler created
        it even if its answer was lost or unclear. Raises TransientError only when the
        login node does not answer."""
        quoted, started = shlex.quote(files.submission_marker), shlex.quote(files.started_file)
        # Another submitter may remove the marker while this reads it (forget_submission):
        # a marker gone half-way reads as absent or as just made, never as a failure.
        result = self.run_checked(
            f"if i=$(cat {started} 2>/dev/null) && [ -n \"$i\" ]; then echo started; "
            f"echo \"$i\"; elif s=$(cat {quoted}/status 2>/dev/null); then echo done; "
            f"echo \"$s\"; sed 's/^/o /' {quoted}/output 2>/dev/null; "
            f"sed 's/^/e /' {quoted}/errors 2>/dev/null; true; elif [ -d {quoted} ]; then "
            f"echo pending; echo $(( $(date +%s) - $(stat -c %Y {quoted} 2>/dev/null "
            f"|| date +%s) )); else echo absent; fi",
            f"reading the submission marker of {name}")
        lines = result.stdout.splitlines()
        if not lines or lines[0] == "absent":
            return "absent", None
        if lines[0] == "started" and len(lines) > 1:
            return "done", lines[1].strip()
        if lines[0] == "pending":
            return "pending", int(lines[1]) if len(lines) > 1 and lines[1].isdigit() else 0
        status = int(lines[1]) if len(lines) > 1 and lines[1].lstrip("-").isdigit() else 1
        answer = {"o": [], "e": []}
        for line in lines[2:]:
            stream, _, text = line.partition(" ")
            answer.get(stream, answer["o"]).append(text)
        try:
            return "done", self._submitted_id(
                Result(status, "\n".join(answer["o"]), "\n".join(answer["e"])), name)
        except (PermanentError, TransientError, QueueLimitReached) as refusal:
            return "refused", refusal

    def forget_submission(self, marker, refused_only=False):
        """Remove a marker whose submission reached no scheduler, so it can be tried again.
        With ``refused_only``, only while it holds a refusal (a non-zero status): another
        submitter's marker made meanwhile, still waiting for its answer or holding a batch
        id, stays."""
        quoted = shlex.quote(marker)
        remove = f"rm -rf -- {quoted}"
        if refused_only:
            remove = (f"if s=$(cat {quoted}/status 2>/dev/null) && [ \"$s\" != 0 ]; then "
                      f"{remove}; fi")
        self.run_checked(remove, "removing a submission marker")

    def remove_tree(self, path):
        """Remove a file or a directory with everything in it, if it is there."""
        self.run_checked(f"rm -rf -- {shlex.quote(path)}", f"removing {path}")

    def cancel(self, job_ids):
        """Remove these batch jobs. One that ended meanwhile is as good as cancelled: PBS
        says so ("Job has finished", "Unknown Job Id"), Slurm's qdel wrapper exits 1
        without a word (captured), so a refusal counts only while a job is still in the
        queue."""
        if not job_ids:
            return
        result = self.run(self.scheduler.cancel_command(sorted(job_ids)))
        if result.status == 0 or self.scheduler.cancel_found_them_ended(result):
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
        size = sum(size for size, _ in expected.values())
        with metrics.Staged(self.name, "in", size):
            self.stager.upload(pairs, size)
        remote = self.checksums([r for _, r in pairs])
        for local, path in pairs:
            if remote[path] != expected[local]:
                raise TransientError(f"{path} on cluster {self.name} does not match what was "
                                     f"sent ({remote[path]} != {expected[local]})")

    def download_verified(self, pairs, expected):
        """Download (remote, local) pairs and check each against ``expected[remote]``."""
        size = sum(expected[path][0] for path, _ in pairs)
        with metrics.Staged(self.name, "out", size):
            self.stager.download(pairs, size)
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
