"""Polling each cluster's scheduler and reporting what changed to the API.

One scheduler command per cluster and round lists every batch job of the cluster user
(docs/worker.md, "Polling"); one more command reads the exit files of the jobs that are no longer
queued. A batch job that left the queue is *ended* only with evidence: a final scheduler
state, an accounting record, or its exit file. One that simply vanished is reported as
lost only after ``lost_grace_seconds``, because a scheduler restart or a failover can hide
jobs for a while.

The poller reports what it saw: a batch job that started (the job is ``running``), and
a batch job that ended or was lost, with the attempt it belongs to, what the scheduler
showed and the exit status. What follows an end (another submission, or a failed job) is
the API's decision: it counts the attempts.

Then it brings in the frames of the running batch jobs that the agents reported done since
its last round (the API lists them), in one transfer for the whole cluster, so a user can
download frames while the job runs and the end-of-job ``collect`` has only the rest left.
That part is best effort: a frame it cannot bring in now stays listed for the next round
or for ``collect``, and its failures never hold up what the round reports.
"""
import logging
import time

from raycrafter_contract.naming import MAX_PAGE
from raycrafter_contract.states import BATCH_STATES
from raycrafter_contract.utilities.backoff import Backoff

from . import frame_collection
from .errors import ApiConflict, PermanentError, TransientError, WorkerError
from .schedulers import ENDED, QUEUED, RUNNING

log = logging.getLogger(__name__)

# Frames brought in per cluster and round, at most: what the worker's disk holds at once,
# and one page of the API's listing of them. More are left for the next round.
FRAMES_PER_ROUND = MAX_PAGE


class Poller:
    def __init__(self, api, clusters, workdir, lost_grace_seconds=600.0,
                 clock=time.monotonic):
        self.api = api
        self.clusters = clusters
        self.workdir = workdir
        self.lost_grace_seconds = lost_grace_seconds
        self._clock = clock
        self._missing_since = {}

    def poll(self, cluster):
        """One round for one cluster; returns {job_id: what was reported}."""
        jobs = self.api.list_jobs(cluster.name, BATCH_STATES)
        if not jobs:
            return {}
        listed = cluster.batch_jobs()
        by_name = {b.name: b for b in listed}
        by_id = {b.id: b for b in listed}
        reports, finished = {}, []
        for job in jobs:
            name = cluster.profile.batch_name(job.batch_name or "")
            batch = by_name.get(name) or by_id.get(job.batch_job_id or "")
            if batch and batch.state == QUEUED:
                self._missing_since.pop(job.id, None)
                reports[job.id] = "queued"
            elif batch and batch.state == RUNNING:
                self._missing_since.pop(job.id, None)
                reports[job.id] = self._running(job, batch)
            else:
                finished.append((job, batch))
        if finished:
            reports.update(self._ended_or_lost(cluster, finished))
        self._bring_in_frames(cluster, [job.id for job in jobs
                                        if reports[job.id] == "running"])
        return reports

    def _bring_in_frames(self, cluster, job_ids):
        """Upload the frames the running jobs' agents reported done since the last round."""
        try:
            wanted = []
            for job_id in job_ids:
                room = FRAMES_PER_ROUND - len(wanted)
                if room <= 0:
                    break
                left = self.api.uncollected_frames(job_id, room).frames
                wanted += [(job_id, frame) for frame in left]
            if wanted:
                uploaded = frame_collection.collect(self.api, cluster, self.workdir, wanted,
                                                    during_run=True)
                log.info("cluster %s: %d of %d rendered frame(s) brought in while their "
                         "batch jobs run", cluster.name, uploaded, len(wanted))
        except WorkerError as error:
            log.warning("cluster %s: rendered frames not brought in this round: %s",
                        cluster.name, error)

    def _running(self, job, batch):
        if job.state == "submitted":
            self._report(job, "running", batch_job_id=batch.id,
                         reason=f"batch job {batch.id} started")
        return "running"

    def _ended_or_lost(self, cluster, finished):
        keys = [(job.id, job.submit_attempt) for job, _ in finished]
        exit_codes = cluster.exit_codes(keys)
        unlisted = [job.batch_job_id for job, batch in finished
                    if batch is None and job.batch_job_id]
        accounting = cluster.accounting(unlisted)
        reports = {}
        for job, batch in finished:
            code = exit_codes.get((job.id, job.submit_attempt))
            record = batch or accounting.get(job.batch_job_id or "")
            if record is not None and record.state == ENDED or code is not None:
                self._missing_since.pop(job.id, None)
                reports[job.id] = self._ended(job, record, code)
                continue
            if record is not None:  # accounting says it is still queued or running
                continue
            first = self._missing_since.setdefault(job.id, self._clock())
            if self._clock() - first < self.lost_grace_seconds:
                reports[job.id] = "missing"
                continue
            self._missing_since.pop(job.id, None)
            self._report_end(job, job.batch_job_id, "it disappeared from the queue "
                             "without an exit status and is taken as lost", None)
            reports[job.id] = "lost"
        return reports

    def _ended(self, job, record, code):
        seen = f"in state {record.raw_state}" if record else "its exit file is written"
        status = code if code is not None else (record.exit_code if record else None)
        self._report_end(job, record.id if record else job.batch_job_id, seen, status)
        return "ended"

    def _report_end(self, job, batch_job_id, seen, exit_status):
        """Report that the batch job of the job's current attempt ended; the API decides
        what follows, and refuses the report (stale_attempt) if the job was submitted
        again meanwhile."""
        self._call(job, "batch job ended", lambda: self.api.batch_ended(
            job.id, job.submit_attempt, batch_job_id=batch_job_id, reason=seen,
            exit_status=exit_status))

    def _report(self, job, to, **fields):
        """Report the state the poll saw the job's current attempt reach."""
        self._call(job, to, lambda: self.api.transition(
            job.id, to, attempt=job.submit_attempt, **fields))

    @staticmethod
    def _call(job, what, call):
        try:
            answer = call()
            log.info("job %s: %s reported; the job is %s", job.id, what, answer.state)
        except ApiConflict as conflict:
            # The job moved on meanwhile: submitted again (stale_attempt), or changed by
            # another request while this one was decided.
            log.info("job %s: %s not reported: %s", job.id, what, conflict)


class PollLoop:
    """Polls every cluster each ``interval`` seconds; a cluster that keeps failing is
    polled less often (exponential backoff with jitter) until it answers again."""

    def __init__(self, poller, interval, stop_event):
        self.poller = poller
        self.interval = interval
        self.stop_event = stop_event
        self._backoff = {name: Backoff(first=interval, cap=max(8 * interval, 300.0))
                         for name in poller.clusters}

    def run(self):
        next_at = {name: 0.0 for name in self.poller.clusters}
        while not self.stop_event.is_set():
            now = time.monotonic()
            for name, cluster in self.poller.clusters.items():
                if now < next_at[name]:
                    continue
                try:
                    self.poller.poll(cluster)
                    self._backoff[name].reset()
                    next_at[name] = now + self.interval
                except (TransientError, PermanentError) as error:
                    delay = self._backoff[name].next_delay()
                    log.warning("polling cluster %s failed (%s); next try in %.0f s",
                                name, error, delay)
                    next_at[name] = now + delay
                except Exception:
                    log.exception("polling cluster %s crashed", name)
                    next_at[name] = now + self.interval
            wait = max(0.1, min(next_at.values()) - time.monotonic())
            self.stop_event.wait(wait)
