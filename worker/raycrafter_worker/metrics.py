"""The worker's Prometheus metrics, and serving them (docs/operations.md, "Metrics").

A host runs several worker processes (Supervisor's ``numprocs``): each counts in files of
its own under ``PROMETHEUS_MULTIPROC_DIR`` and serves the sum of all of them on the one
``metrics_listen`` address they share (raycrafter_contract.utilities.metrics_endpoint).
Without that directory a process serves its own registry.
"""
import os
import time

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics,
                               make_wsgi_app)
from prometheus_client import multiprocess

from raycrafter_contract.utilities import metrics_endpoint

# Before any series: they open their files in the directory as they are made.
metrics_endpoint.join_multiprocess_directory()

# A counter's creation time is one more series per counter that no rule reads, and
# multiprocess mode leaves it out anyway: left out in a single process too.
disable_created_metrics()
REGISTRY = CollectorRegistry(auto_describe=True)

# A command on the login node takes tens of milliseconds; a scheduler under load, seconds;
# command_timeout_seconds (120 by default) ends the wait.
COMMAND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
# A scene or a batch of frames: a second on a quiet link, an hour for gigabytes.
STAGE_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

SSH_COMMAND_SECONDS = Histogram(
    "raycrafter_worker_ssh_command_duration_seconds", "Time a command on a cluster's login "
    "node took over SSH, from sending it to its exit status.", ["cluster"],
    buckets=COMMAND_BUCKETS, registry=REGISTRY)
SSH_COMMAND_FAILURES = Counter(
    "raycrafter_worker_ssh_command_failures", "Commands on a cluster's login node that "
    "reached no exit status: SSH could not connect, the session broke or it timed out.",
    ["cluster"], registry=REGISTRY)
BATCH_JOBS = Gauge(
    "raycrafter_worker_batch_jobs", "This appliance's batch jobs on a cluster, by state, as "
    "the last listing of its queue showed them.", ["cluster", "state"],
    multiprocess_mode="mostrecent", registry=REGISTRY)
SUBMISSIONS = Counter(
    "raycrafter_worker_submissions", "Batch jobs a cluster's scheduler accepted.",
    ["cluster"], registry=REGISTRY)
SUBMISSIONS_REFUSED = Counter(
    "raycrafter_worker_submissions_refused", "Submissions a cluster's scheduler refused "
    "(its answer an error, or no batch job id).", ["cluster"], registry=REGISTRY)
STAGE_BYTES = Counter(
    "raycrafter_worker_stage_bytes", "Bytes copied to a cluster (direction in: scenes) or "
    "from it (out: frames).", ["cluster", "direction"], registry=REGISTRY)
STAGE_SECONDS = Histogram(
    "raycrafter_worker_stage_duration_seconds", "Time one copy to or from a cluster took.", ["cluster", "direction"], buckets=STAGE_BUCKETS,
    registry=REGISTRY)


def known_cluster(cluster):
    """Every series of a cluster from the start, at zero: a rate needs a first sample, and
    a scrape shows what is counted before anything happened."""
    for series in (SSH_COMMAND_SECONDS, SSH_COMMAND_FAILURES, SUBMISSIONS,
                   SUBMISSIONS_REFUSED):
        series.labels(cluster)
    for direction in ("in", "out"):
        STAGE_BYTES.labels(cluster, direction)
        STAGE_SECONDS.labels(cluster, direction)


def count_batch_jobs(cluster, queued, running):
    BATCH_JOBS.labels(cluster, "queued").set(queued)
    BATCH_JOBS.labels(cluster, "running").set(running)


class Staged:
    """Times a copy to or from ``cluster`` and counts its ``size`` bytes if it succeeds."""

    def __init__(self, cluster, direction, size):
        self.labels = (cluster, direction)
        self.size = size

    def __enter__(self):
        self.started = time.monotonic()
        return self

    def __exit__(self, kind, error, trace):
        if kind is None:
            STAGE_SECONDS.labels(*self.labels).observe(time.monotonic() - self.started)
            STAGE_BYTES.labels(*self.labels).inc(self.size)


def serve(listen, certificate="", key=""):
    """Serve the worker's metrics on ``listen`` (HOST:PORT) in a thread, over TLS with
    ``certificate`` and ``key`` if given. Returns the server."""
    scraped = CollectorRegistry()
    if os.environ.get(metrics_endpoint.DIRECTORY_VARIABLE):
        multiprocess.MultiProcessCollector(scraped)
    else:
        scraped.register(REGISTRY)
    return metrics_endpoint.serve(make_wsgi_app(scraped), listen, certificate or None,
                                  key or None)
