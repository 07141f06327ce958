"""Polling each cluster's scheduler and reporting what changed to the API.

One scheduler command per cluster and round lists every batch job of the cluster user
(docs/worker.md, "Polling"); for the jobs that are no longer queued or running, one more
reads their exit files and the launcher's last words, and one asks the scheduler's
records (Slurm's accounting, a PBS server's history) how they ended. A batch job that
left the queue is *ended* only with evidence: a final scheduler state, a record, or its
exit file. One that simply vanished is reported as lost only after
``lost_grace_seconds``, because a scheduler restart or a failover can hide jobs for a
while.

While batch jobs of a cluster are queued or running, each round starts the login node's
gateway again if the compute nodes need one and it is gone (gateway.py).

The poller reports what it saw: a batch job that started (the job is ``running``), and
a batch job that ended or was lost, with the attempt it belongs to, how it ended in words
a user understands ("the batch job ran out of its walltime (TIMEOUT) after 00:10:00") and
the exit status. What follows an end (another submission, or a failed job) is the API's
decision: it counts the attempts.

On a cluster that holds as many of our batch jobs as it may, it submits the jobs this
process found waiting when their turn comes (queue_turns.py).

Then it brings in the frames of the running batch jobs that the agents reported done since
its last round (the API lists them), in one transfer for the whole cluster, so a user can
download frames while the job runs and the end-of-job ``collect`` has only the rest left.
That part is best effort: a frame it cannot bring in now stays listed for the next round
or for ``collect``, and its failures never hold up what the round reports.
"""
import logging
import time

from raycrafter_contract import job_logging
from raycrafter_contract.naming import MAX_PAGE
from raycrafter_contract.states import BATCH_STATES
from raycrafter_contract.utilities.backoff import Backoff

from . import frame_collection
from .errors import ApiConflict, PermanentError, TransientError, WorkerError
from .queue_turns import WAITING_STATES, WaitingJobs, turn_order
from .schedulers import ENDED, QUEUED, RUNNING

log = logging.getLogger(__name__)

# Frames brought in per cluster and round, at most: what the worker's disk holds at once,
# and one page of the API's listing of them. More are left for the next round.
FRAMES_PER_ROUND = MAX_PAGE


class Poller:
    def __init__(self, api, clusters, workdir, lost_grace_seconds=600.0,
                 clock=time.monotonic, waiting=None, take_turn=None):
        self.api = api
        self.clusters = clusters
        self.workdir = workdir
        self.lost_grace_seconds = lost_grace_seconds
        self._clock = clock
        self._missing_since = {}
        # The jobs this process found waiting for a place (queue_turns.py), and what
        # submits one whose turn has come: take_turn(cluster name, job id).
        self.waiting = waiting if waiting is not None else WaitingJobs()
        self.take_turn = take_turn

    def poll(self, cluster):
        """One round for one cluster; returns {job_id: what was reported}."""
        jobs = self.api.list_jobs(cluster.name, BATCH_STATES)
        waiting = self.waiting.of(cluster.name)
        if not jobs and not waiting:
            return {}
        if jobs:
            self._keep_gateway(cluster)
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
        if waiting:
            self._give_turns(cluster, waiting, listed)
        self._bring_in_frames(cluster, [job.id for job in jobs
                                        if reports[job.id] == "running"])
        return reports

    @staticmethod
    def _keep_gateway(cluster):
        """The gateway, if the cluster needs one, started again if it is gone; a failure
        is logged and tried again next round, never a reason to report nothing."""
        try:
            cluster.ensure_gateway()
        except WorkerError as error:
            log.warning("cluster %s: %s", cluster.name, error)

    def _give_turns(self, cluster, waiting, listed):
        """Submit the jobs this process found waiting whose turn has come: as many as the
        profile's ``max_queued_jobs`` leaves places free, or one a round where only the
        scheduler's own limit stopped them (when it frees a place is its business)."""
        limit = cluster.profile.max_queued_jobs
        free = limit - cluster.places_taken(listed) if limit else 1
        if free <= 0 or self.take_turn is None:
            return
        try:
            order = turn_order(self.api.list_jobs(cluster.name, WAITING_STATES + BATCH_STATES),
                               cluster.last_turns())
        except WorkerError as error:
            log.warning("cluster %s: waiting jobs not submitted this round: %s",
                        cluster.name, error)
            return
        for job_id in waiting - set(order):  # cancelled, failed or submitted meanwhile
            self.waiting.release(cluster.name, job_id)
        for job_id in order[:free]:
            if job_id in waiting:
                self.waiting.release(cluster.name, job_id)
                with job_logging.about_job(job_id):
                    log.info("job %s: its turn on cluster %s has come", job_id, cluster.name)
                self.take_turn(cluster.name, job_id)

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
        """Of the jobs whose batch job is neither queued nor running in the listing: those
        with evidence that it ended (a final state in the listing or in the scheduler's
        records, or an exit file) are reported ended, with what ended them; the others
        are lost once missing for ``lost_grace_seconds``."""
        endings = cluster.script_endings([(job.id, job.submit_attempt)
                                          for job, _ in finished])
        records = cluster.accounting([batch.id if batch else job.batch_job_id
                                      for job, batch in finished
                                      if batch or job.batch_job_id])
        reports = {}
        for job, batch in finished:
            script = endings[(job.id, job.submit_attempt)]
            record = _best_record(records.get(batch.id if batch else
                                              job.batch_job_id or ""), batch)
            if record is not None and record.state == ENDED or script.status is not None:
                self._missing_since.pop(job.id, None)
                reports[job.id] = self._ended(job, record, script)
                continue
            if record is not None:  # the records say it is still queued or running
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

    def _ended(self, job, record, script):
        self._report_end(job, record.id if record else job.batch_job_id,
                         how_it_ended(record, script),
                         script.status if script.status is not None
                         else record.exit_code if record else None)
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
        with job_logging.about_job(job.id):
            try:
                answer = call()
                log.info("job %s: %s reported; the job is %s", job.id, what, answer.state)
            except ApiConflict as conflict:
                # The job moved on meanwhile: submitted again (stale_attempt), or changed by
                # another request while this one was decided.
                log.info("job %s: %s not reported: %s", job.id, what, conflict)


def _best_record(accounted, listed):
    """The scheduler's word on a batch job: the one that says it ended (accounting may lag
    behind the listing, or outlive it), else whichever there is."""
    known = [record for record in (accounted, listed) if record is not None]
    return next((record for record in known if record.state == ENDED),
                known[0] if known else None)


def how_it_ended(record, script):
    """What the user reads after "batch job N of attempt K ended: ": the scheduler's
    account of the end in words, else the batch script's exit status, then the launcher's
    own words about a failure (aprun's "apsched: claim exceeds reservation's
    node-count")."""
    if record is not None and record.state == ENDED:
        said = record.ending or f"in state {record.raw_state}"
    else:
        said = f"the batch script ended with exit status {script.status}"
    if script.said:
        said += "; the batch job's output says: " + " | ".join(script.said)
    return said


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
