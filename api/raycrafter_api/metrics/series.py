"""The series the API's and the relay's processes count, in one registry per process.

What the database knows (jobs by state, the outbox) is read from it at scrape time
(``database_gauges.py``), not counted here: any process can answer that alone. What
happens in one process (a frame reported, a claim answered, a command published) is
counted here; under ``PROMETHEUS_MULTIPROC_DIR`` each process writes its counts to files
of its own in that directory and a scrape sums them (``exposition.py``).

Both programs define every series; each moves its own (the relay: leases it expired,
commands it published), and every series is a counter or a histogram, so sums over the
``api`` and ``relay`` jobs are right.
"""
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

from raycrafter_contract.messaging import COMMANDS
from raycrafter_contract.utilities import metrics_endpoint

# Before any series: they open their files in the directory as they are made.
metrics_endpoint.join_multiprocess_directory()

# A counter's creation time is one more series per counter that no rule reads, and
# multiprocess mode leaves it out anyway: left out in a single process too.
disable_created_metrics()
REGISTRY = CollectorRegistry(auto_describe=True)

# POV-Ray renders a frame in well under a second at preview sizes and in hours at print
# sizes.
RENDER_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
# A claim or report is a few statements; a second means the database is struggling.
REQUEST_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

FRAMES_COMPLETED = Counter(
    "raycrafter_frames_completed", "Frames node agents reported rendered.",
    registry=REGISTRY)
FRAMES_FAILED = Counter(
    "raycrafter_frames_failed", "Render attempts node agents reported failed (each attempt; "
    "a frame fails for good after max_attempts).", registry=REGISTRY)
FRAME_RENDER_SECONDS = Histogram(
    "raycrafter_frame_render_seconds", "Render time of each frame, as its node agent "
    "reported it.", buckets=RENDER_BUCKETS, registry=REGISTRY)
AGENT_REQUEST_SECONDS = Histogram(
    "raycrafter_agent_request_duration_seconds", "Time the API took to answer a node "
    "agent's claim or report (complete, fail).", ["request"], buckets=REQUEST_BUCKETS,
    registry=REGISTRY)
LEASES_EXPIRED = Counter(
    "raycrafter_leases_expired", "Frame leases that ran out because their node agent "
    "stopped heartbeating.", registry=REGISTRY)
SUBMISSIONS = Counter(
    "raycrafter_submissions", "Submission attempts recorded: a job handed to a scheduler, "
    "the first time or again.", registry=REGISTRY)
RESUBMISSIONS = Counter(
    "raycrafter_resubmissions", "Submission attempts after a job's first: its batch job "
    "ended before every frame was rendered.", registry=REGISTRY)
COMMANDS_PUBLISHED = Counter(
    "raycrafter_relay_commands_published", "Outbox commands the relay handed to RabbitMQ.",
    ["command"], registry=REGISTRY)
COMMANDS_CONFIRMED = Counter(
    "raycrafter_relay_commands_confirmed", "Outbox commands RabbitMQ confirmed, marked sent.",
    ["command"], registry=REGISTRY)

# Every command's series from the start, at zero: a rate needs a first sample.
for _command in COMMANDS:
    COMMANDS_PUBLISHED.labels(_command)
    COMMANDS_CONFIRMED.labels(_command)
