"""What the worker does for each command (submit, cancel, collect).

Every handler starts from the job's state in the API (the source of truth) and is safe to
run again from the top after a crash, a retry or a duplicate message. The one action that
cannot be undone, handing a script to the scheduler, is guarded as docs/worker.md ("Never submit twice") says:
the attempt is recorded with the API first, the batch job carries its name
(``rc-JOB-aATTEMPT``), and the scheduler is searched for that name before any submission
and after any unclear failure.
"""
import datetime
import logging
import os
import tempfile
import threading
import time

from raycrafter_contract import scenes
from raycrafter_contract.naming import batch_name_pattern
from raycrafter_contract.scenes import SceneLimits
from raycrafter_contract.states import BATCH_STATES, acts_on
from raycrafter_contract.utilities.backoff import Backoff

from . import batch_script, frame_collection
from .batch_script import JobFiles
from .checksums import file_checksum
from .command_failures import DISK_FULL_ERRNOS
from .errors import (ApiConflict, DiskFull, PermanentError, QueueLimitReached,
                     ShuttingDown, TransientError)
from .queue_turns import WAITING_STATES, WaitingJobs, turn_order
from .retry import sleep_unless_stopped
from .staging import remote_trust_dir

log = logging.getLogger(__name__)

COLLECT_CHUNK = 50  # frames held on the worker's disk at once
# No scheduler takes this long to answer a submission: a marker without an answer for
# longer was left by a submitter that died before the scheduler saw the script.
STALE_SUBMISSION_SECONDS = 600


class Handlers:
    def __init__(self, api, clusters, workdir, stop_event, retry_limit_seconds=300.0,
                 scene_limits=SceneLimits(), waiting=None,
                 stage_in_disk_wait_seconds=6 * 3600.0):
        self.api = api
        self.clusters = clusters
        self.workdir = workdir
        self.stop_event = stop_event
        self.retry_limit_seconds = retry_limit_seconds
        self.scene_limits = scene_limits
        # Jobs that wait for a place on their cluster; the poller submits them in turn.
        self.waiting = waiting if waiting is not None else WaitingJobs()
        self.stage_in_disk_wait_seconds = stage_in_disk_wait_seconds
        # When this process first found no room for a job's scene (job id -> epoch).
        self._no_room_since = {}
        self._job_locks = {}
        self._locks_guard = threading.Lock()

    def handle(self, command):
        """Run one command; returns a line for the log. Raises WorkerError subclasses."""
        job_id = int(command["job_id"])
        action = {"submit": self.submit, "cancel": self.cancel,
                  "collect": self.collect}[command["command"]]
        with self._job_lock(job_id):
            return action(job_id)

    # -- submit ---------------------------------------------------------------------------

    def submit(self, job_id):
        job = self.api.get_job(job_id)
        if not acts_on("submit", job.state):
            return f"job {job_id} is {job.state}: nothing to submit"
        cluster = self._cluster(job)
        if job.state == "pending":
            job = self.api.transition(job_id, "staging", reason="the worker is staging it in")
        # Batch jobs are named after recorded attempts: a job without one has none to find.
        listed = (cluster.batch_jobs()
                  if job.submit_attempt or cluster.profile.max_queued_jobs else [])
        if job.submit_attempt:
            adopted = self._adopt_or_clear_queue(cluster, job, listed)
            if adopted:
                return adopted
        try:
            self._take_turn(cluster, job, listed)
            batch_id, name, attempt = self._stage_and_submit(cluster, job)
        except QueueLimitReached as limit:
            self.waiting.park(cluster.name, job_id)
            return f"job {job_id} waits for its turn on cluster {cluster.name}: {limit}"
        self.waiting.release(cluster.name, job_id)
        try:
            self.api.transition(job_id, "submitted", batch_job_id=batch_id, attempt=attempt)
        except ApiConflict:
            if self.api.get_job(job_id).state in ("failed", "cancelled"):
                cluster.cancel([batch_id])
                return f"job {job_id} ended while it was submitted: batch job {batch_id} removed"
            raise
        return f"job {job_id}: submitted as batch job {batch_id} ({name})"

    def _stage_and_submit(self, cluster, job):
        """Stage the scene in, record an attempt and hand it to the scheduler once; the
        batch job's id and name, and the attempt."""
        job_id = job.id
        self._checkpoint()
        log.info("job %s: staging its scene in on %s", job_id, cluster.name)
        try:
            self._stage_in(cluster, job)
        except DiskFull as error:
            self._wait_for_room(cluster, job, error)
        self._no_room_since.pop(job_id, None)
        self._checkpoint()
        submission = self.api.record_submission(job_id)
        log.info("job %s: attempt %s %s", job_id, submission.attempt,
                 "resumed" if submission.resumed else "recorded")
        files = JobFiles(cluster.profile.job_dir(job_id), submission.attempt)
        script = batch_script.render(cluster.profile, job_id, job.name, files,
                                     cluster.scheduler.JOB_ID_VARIABLE)
        name = cluster.profile.batch_name(submission.batch_name)
        return (self._submit_once(cluster, name, files, submission, script, job.owner), name,
                submission.attempt)

    def _take_turn(self, cluster, job, listed):
        """Under a profile's ``max_queued_jobs``, go on only if a place is free and it is
        this job's turn to take it (queue_turns.py); else QueueLimitReached. Checked before
        the scene is staged in, so that waiting jobs cost no transfers; the submission
        counts again, under the cluster's queue lock (Cluster.submit)."""
        limit = cluster.profile.max_queued_jobs
        if not limit:
            return
        taken = cluster.places_taken(listed)
        if taken >= limit:
            raise QueueLimitReached(f"{taken} batch job(s) of this appliance are queued or "
                                    f"running, as many as its profile allows "
                                    f"(max_queued_jobs = {limit})")
        order = turn_order(self.api.list_jobs(cluster.name, WAITING_STATES + BATCH_STATES),
                           cluster.last_turns())
        ahead = order.index(job.id) if job.id in order else 0
        if ahead >= limit - taken:
            raise QueueLimitReached(f"{ahead} job(s) go before it for the {limit - taken} "
                                    f"free place(s) (max_queued_jobs = {limit})")

    def _adopt_or_clear_queue(self, cluster, job, listed):
        """In the ``listed`` batch jobs, adopt the current attempt's batch job if it is
        queued or running, and cancel those of older attempts. A batch job of a newer
        attempt than the job this command read means the job moved on meanwhile (another
        worker recorded and submitted that attempt): it is that attempt's, never this
        command's to cancel, and nothing is left to submit. Returns the line for the log
        when the command is done."""
        job_id, attempt = job.id, job.submit_attempt
        active = [(number, b) for number, b in self._batch_jobs_of(cluster, job_id, listed)
                  if b.active]
        newer = [f"{b.id} ({b.name})" for number, b in active if number > attempt]
        if newer:
            return (f"job {job_id}: batch job {', '.join(newer)} of a newer attempt than "
                    f"{attempt} is in the queue; left alone, nothing to submit")
        current = next((b for number, b in active if number == attempt), None)
        if current:
            self.api.transition(job_id, "submitted", batch_job_id=current.id,
                                reason=f"found {current.name} already in the queue",
                                attempt=attempt)
            return f"job {job_id}: adopted batch job {current.id} ({current.name})"
        stale = [b.id for number, b in active if number < attempt]
        if stale:
            log.warning("job %s: cancelling batch jobs %s of abandoned attempts", job_id, stale)
            cluster.cancel(stale)
        return None

    def _submit_once(self, cluster, name, files, submission, script, owner):
        """Hand this attempt to the scheduler exactly once, whoever else tries.

        The submission command writes the agent token and the batch script, creates the
        attempt's marker on the login node and submits only if it created it
        (cluster.submit). After an unclear failure, or when the marker was there already,
        the marker says what happened: nothing started (submit), an answer recorded (its
        batch id, or its refusal), or a submission under way; while one is under way, the
        queue is searched for the attempt's name. A batch job of the attempt that already
        ran (its ``started`` file, which the batch script writes) counts as submitted,
        even where the scheduler forgot it at once (PBS without history). A refusal at a
        queue limit raises QueueLimitReached: the job waits its turn. A marker left without
        an answer for STALE_SUBMISSION_SECONDS by a submitter that died, with nothing of
        that name in the queue, is removed and the attempt submitted again."""
        backoff = Backoff()
        deadline = time.monotonic() + self.retry_limit_seconds
        marker = files.submission_marker
        last = None
        while True:
            if last is not None:  # trying again: not sooner than the backoff allows
                self._wait_to_retry(backoff, deadline, last, name)
            try:
                log.info("handing %s to the scheduler", name)
                return cluster.submit(files, name, submission.agent_token,
                                      submission.log_credential or "", script, owner)
            except QueueLimitReached:
                # Nothing was submitted; a refusal the scheduler gave is not kept.
                cluster.forget_submission(marker, refused_only=True)
                raise
            except TransientError as error:  # SubmittingElsewhere included
                log.warning("submitting %s: %s; asking its marker", name, error)
                last = error
            while True:
                try:
                    state, value = cluster.submission_outcome(files, name)
                    queued = (self._in_queue(cluster, name)
                              if state in ("pending", "refused") else None)
                except TransientError as error:  # the login node did not answer
                    state, value, queued, last = "unknown", None, None, error
                if state == "done":
                    return value
                if queued:
                    log.info("%s was accepted after all: batch job %s", name, queued)
                    return queued
                if state == "absent":
                    break
                if state == "refused":
                    if isinstance(value, PermanentError):
                        raise value
                    cluster.forget_submission(marker, refused_only=True)
                    if isinstance(value, QueueLimitReached):
                        raise value
                    last = value
                    break
                if state == "pending" and value > STALE_SUBMISSION_SECONDS:
                    log.warning("%s: its submitter left no answer for %d s and the queue has "
                                "no such job; submitting it again", name, value)
                    cluster.forget_submission(marker)
                    break
                self._wait_to_retry(backoff, deadline, last, name)

    def _wait_to_retry(self, backoff, deadline, last, name):
        if time.monotonic() > deadline:
            raise last
        if sleep_unless_stopped(backoff.next_delay(), self.stop_event):
            raise ShuttingDown(f"stopped while submitting {name}")

    @staticmethod
    def _in_queue(cluster, name):
        found = [b.id for b in cluster.batch_jobs() if b.name == name]
        return found[0] if found else None

    def _stage_in(self, cluster, job):
        """Unpack the scene with the rule the API checked it by: on the login node, its
        archive sent as one stream, where the site lets the worker run its receiver there
        (staging.py); else here, and its files sent one by one. Anything that still cannot
        be unpacked fails this one job for good. The job's directories (and the scene's,
        for files sent one by one) are made in one command first. A job with a recorded
        attempt was staged in before (attempts are recorded after it): what is still on
        scratch as it was is not sent again, so a job that waits for its turn, or is
        submitted again, costs one command."""
        files = JobFiles(cluster.profile.job_dir(job.id), 0)
        job_dirs = {files.job_dir, files.frames_dir, files.logs_dir,
                    remote_trust_dir(cluster.profile)}
        with tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
            scene = os.path.join(tmp, "scene")
            kind = self._download_scene(job, scene)
            if cluster.stager.receives_scenes:
                main_file = self._receive_scene(cluster, job, scene, kind, files.input_dir,
                                                job_dirs)
            else:
                main_file = self._send_scene_files(cluster, job, scene, kind,
                                                   os.path.join(tmp, "tree"),
                                                   files.input_dir, job_dirs)
            if main_file != job.scene_file:
                raise PermanentError(f"the scene's main file is {main_file}, not "
                                     f"{job.scene_file} as the API recorded")

    def _receive_scene(self, cluster, job, scene, kind, input_dir, job_dirs):
        """The scene's archive unpacked by the receiver on the login node; its main file."""
        checksum = file_checksum(scene)
        if job.submit_attempt:
            answer = cluster.stager.scene_in_place(kind, checksum, input_dir)
            if answer is not None:
                log.info("job %s: its scene is on %s already", job.id, cluster.name)
                return answer["main_file"]
        cluster.make_dirs(sorted(job_dirs))
        return cluster.receive_scene(scene, kind, checksum, input_dir, self.scene_limits,
                                     job.scene_file)["main_file"]

    def _send_scene_files(self, cluster, job, scene, kind, tree, input_dir, job_dirs):
        """The scene unpacked here into ``tree`` and its files sent one by one, those still
        on scratch as they were left out; its main file."""
        unpacked = self._unpack(job, scene, kind, tree)
        if unpacked.main_file != job.scene_file:
            return unpacked.main_file
        pairs = [(os.path.join(tree, *name.split("/")), f"{input_dir}/{name}")
                 for name in unpacked.files]
        scene_dirs = {os.path.dirname(remote) for _, remote in pairs}
        cluster.make_dirs(sorted(scene_dirs | job_dirs | {input_dir}))
        if job.submit_attempt:
            there = cluster.checksums([remote for _, remote in pairs])
            pairs = [(local, remote) for local, remote in pairs
                     if there[remote] != file_checksum(local)]
        if pairs:
            cluster.upload_verified(pairs)
        else:
            log.info("job %s: its scene is on %s already", job.id, cluster.name)
        return unpacked.main_file

    def _wait_for_room(self, cluster, job, error):
        """A stage-in that found no room for the scene (``error``), here or on the cluster.
        Its part-copied scene is removed, so that the job holds no room while it waits and
        another job's stage-in may fit meanwhile; then it is tried again (``error`` is
        raised), until no room was found for ``stage_in_disk_wait_seconds``, counted from
        when this process first met it and never before the job entered staging (waiting
        for its turn on the cluster does not count): then a scene that never found room
        fails its own job, with the last error, and no other."""
        cluster.remove_tree(JobFiles(cluster.profile.job_dir(job.id), 0).input_dir)
        now = time.time()
        since = max(self._no_room_since.setdefault(job.id, now),
                    _epoch(job.state_changed_at) or 0.0)
        if now - since < self.stage_in_disk_wait_seconds:
            raise error
        self._no_room_since.pop(job.id, None)
        raise PermanentError(f"no room to stage the scene in on cluster {cluster.name} for "
                             f"{_duration(now - since)} (last: {error}); make room on the "
                             f"cluster's scratch or in its quota, or submit a smaller scene")

    def _download_scene(self, job, scene):
        """The job's scene, saved to ``scene``; returns its kind. A full disk is transient,
        as it is on the login node (command_failures.py)."""
        try:
            return self.api.download_input(job.id, scene)
        except OSError as error:
            raise _worker_disk_full(error) from None

    def _unpack(self, job, scene, kind, tree):
        """The scene unpacked into ``tree``. A full disk is transient; any other failure to
        unpack fails the job with its reason: the rule accepted the scene at submission,
        so what stops it here stops it on every try, and retrying would only hold the job
        and a delivery slot."""
        try:
            return scenes.unpack(scene, kind, tree, self.scene_limits, job.scene_file)
        except scenes.SceneRejected as error:
            raise PermanentError(f"the scene cannot be unpacked: {error}") from None
        except Exception as error:
            if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
                raise _worker_disk_full(error) from None
            raise PermanentError(f"the scene cannot be unpacked on the worker "
                                 f"({type(error).__name__}: {error})") from None

    # -- cancel ---------------------------------------------------------------------------

    def cancel(self, job_id):
        job = self.api.get_job(job_id)
        if not acts_on("cancel", job.state):
            return f"job {job_id} is {job.state}: not cancelling its batch job"
        cluster = self._cluster(job)
        active = [b for _, b in self._batch_jobs_of(cluster, job_id, cluster.batch_jobs())
                  if b.active]
        if not active:
            return f"job {job_id}: no batch job left to cancel"
        cluster.cancel([b.id for b in active])
        return f"job {job_id}: cancelled batch jobs {', '.join(b.id for b in active)}"

    # -- collect --------------------------------------------------------------------------

    def collect(self, job_id):
        """Upload what the poller has not brought in while the batch job ran (the API
        lists it), COLLECT_CHUNK frames at a time, then the job is done."""
        job = self.api.get_job(job_id)
        if not acts_on("collect", job.state):
            return f"job {job_id} is {job.state}: nothing to collect"
        cluster = self._cluster(job)
        left = self.api.uncollected_frames(job_id, COLLECT_CHUNK)
        log.info("job %s: collecting %d frame(s) from %s", job_id, left.total, cluster.name)
        collected = 0
        while left.frames:
            self._checkpoint()
            collected += frame_collection.collect(
                self.api, cluster, self.workdir, [(job_id, f) for f in left.frames],
                during_run=False)
            left = self.api.uncollected_frames(job_id, COLLECT_CHUNK)
        self.api.transition(job_id, "done",
                            reason=f"every frame collected ({collected} at the end)")
        return f"job {job_id}: every frame collected, {collected} at the end"

    # -- shared ---------------------------------------------------------------------------

    def _cluster(self, job):
        cluster = self.clusters.get(job.cluster)
        if cluster is None:
            raise PermanentError(f"job {job.id} asks for cluster {job.cluster!r}, which "
                                 f"this worker has no profile for")
        return cluster

    @staticmethod
    def _batch_jobs_of(cluster, job_id, listed):
        """(attempt, batch job) for each of the ``listed`` batch jobs that is the job's."""
        pattern = batch_name_pattern(job_id, cluster.profile.batch_prefix)
        return [(int(match.group(1)), b) for b in listed if (match := pattern.match(b.name))]

    def _checkpoint(self):
        if self.stop_event.is_set():
            raise ShuttingDown("the worker is stopping")

    def _job_lock(self, job_id):
        with self._locks_guard:
            return self._job_locks.setdefault(job_id, threading.Lock())


def _worker_disk_full(error):
    """The worker's own OSError as the worker meets it: a full disk is transient, anything
    else is raised as it is."""
    if error.errno not in DISK_FULL_ERRNOS:
        raise error
    return DiskFull(f"the worker's disk is full: {error}")


def _epoch(moment):
    """The API's ``2026-11-22T10:00:00Z`` in seconds since the epoch; None without one (an
    API from before it said when a job entered its state)."""
    if not moment:
        return None
    return datetime.datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()


def _duration(seconds):
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds:.0f} s"
