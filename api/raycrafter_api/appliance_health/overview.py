"""The operator's page: the appliance's health at a glance, from a fixed set of Prometheus
queries (jobs by state, frames per second, queue depths, every host's targets and disks,
the alerts), over one of a few fixed windows of time.

The answer is kept for a few seconds per window, failures too: however many admins have
the page open, each API process asks Prometheus at most once per window in that time.
"""
import dataclasses
import threading
import time

from ..problems import Unavailable, bad_field
from .prometheus import Prometheus, PrometheusUnavailable

# Each window of time the graphs may cover, and the step between their points (about 180).
WINDOWS = {"15m": (15 * 60, 5), "1h": (3600, 20), "6h": (6 * 3600, 120),
           "24h": (24 * 3600, 480)}
# Memory-backed file systems say nothing about a host's disks.
_DISKS = 'fstype!~"tmpfs|ramfs"'


@dataclasses.dataclass(frozen=True)
class Line:
    """One query of a graph: its series are named ``name``, or by the values of ``by``."""
    query: str
    name: str = ""
    by: tuple = ()

    def label(self, labels):
        return self.name or " ".join(labels.get(key, "") for key in self.by)


@dataclasses.dataclass(frozen=True)
class Graph:
    name: str
    title: str
    unit: str
    lines: tuple


# Several API hosts read the same database: their gauges of it agree, so the largest is the
# count, never their sum.
GRAPHS = (
    Graph("jobs", "Unfinished jobs by state", "jobs", (
        Line('max by (state) (raycrafter_jobs{state!~"done|failed|cancelled"})',
             by=("state",)),)),
    Graph("frames", "Frames per second", "frames/s", (
        Line("sum(rate(raycrafter_frames_completed_total[5m]))", name="rendered"),
        Line("sum(rate(raycrafter_frames_failed_total[5m]))", name="failed"))),
    Graph("queues", "Queue depths", "commands", (
        Line("max(raycrafter_outbox_commands)", name="outbox"),
        Line("sum(rabbitmq_queue_messages)", name="RabbitMQ"))),
    Graph("disks", "Disk space used", "fraction", (
        Line(f"1 - node_filesystem_avail_bytes{{{_DISKS}}} / node_filesystem_size_bytes{{{_DISKS}}}",
             by=("instance", "mountpoint")),)),
)
JOBS_NOW = "max by (state) (raycrafter_jobs)"
TARGETS_UP = "up"
DISK_AVAILABLE = f"node_filesystem_avail_bytes{{{_DISKS}}}"
DISK_SIZE = f"node_filesystem_size_bytes{{{_DISKS}}}"


class Overview:
    def __init__(self, url, ca_file="", timeout_seconds=3.0, cache_seconds=5.0):
        self.url, self.ca_file = url, ca_file
        self.timeout_seconds, self.cache_seconds = timeout_seconds, cache_seconds
        self._lock = threading.Lock()
        self._kept = {}  # window -> (monotonic time it expires, answer or exception)

    def of(self, window):
        """The overview over ``window`` (a key of WINDOWS)."""
        if window not in WINDOWS:
            raise bad_field("window", f"must be one of {', '.join(WINDOWS)}")
        if not self.url:
            raise Unavailable("prometheus_not_configured",
                              "the API knows no Prometheus (prometheus_url): the deployment "
                              "has no monitoring host")
        # Admins arriving together wait for one answer rather than each asking Prometheus.
        with self._lock:
            expires, kept = self._kept.get(window, (0.0, None))
            if time.monotonic() >= expires:
                try:
                    kept = self._ask(window)
                except PrometheusUnavailable as error:
                    kept = error
                self._kept[window] = (time.monotonic() + self.cache_seconds, kept)
        if isinstance(kept, PrometheusUnavailable):
            raise Unavailable("prometheus_unavailable", str(kept), {"prometheus": self.url})
        return kept

    def _ask(self, window):
        prometheus = Prometheus(self.url, self.ca_file, self.timeout_seconds)
        span, step = WINDOWS[window]
        end = round(time.time(), 3)
        start = end - span
        graphs = [{"name": graph.name, "title": graph.title, "unit": graph.unit,
                   "lines": [_line(line, labels, points, end, step)
                             for line in graph.lines
                             for labels, points in prometheus.query_range(line.query, start,
                                                                          end, step)]}
                  for graph in GRAPHS]
        jobs = {labels.get("state", ""): int(value)
                for labels, value in prometheus.query(JOBS_NOW, end)}
        return {"window": window, "start": start, "end": end, "step": step,
                "prometheus": self.url, "jobs": jobs, "graphs": graphs,
                "hosts": _hosts(prometheus, end), "alerts": _alerts(prometheus.alerts())}


def _line(line, labels, points, end, step):
    # A value is current if Prometheus still had it at the window's end.
    latest = points[-1][1] if points and points[-1][0] >= end - step else None
    return {"label": line.label(labels), "points": points, "latest": latest}


def _host(instance):
    return instance.rsplit(":", 1)[0].strip("[]")


def _hosts(prometheus, moment):
    """Every host Prometheus scrapes: which of its targets answer, and its disks."""
    hosts = {}

    def host(instance):
        return hosts.setdefault(_host(instance), {"host": _host(instance), "targets": [],
                                                  "disks": {}})

    for labels, value in prometheus.query(TARGETS_UP, moment):
        host(labels.get("instance", ""))["targets"].append(
            {"job": labels.get("job", ""), "instance": labels.get("instance", ""),
             "up": value == 1})
    for key, query in (("available_bytes", DISK_AVAILABLE), ("size_bytes", DISK_SIZE)):
        for labels, value in prometheus.query(query, moment):
            disks = host(labels.get("instance", ""))["disks"]
            mountpoint = labels.get("mountpoint", "")
            disks.setdefault(mountpoint, {"mountpoint": mountpoint})[key] = value
    return [{**entry, "targets": sorted(entry["targets"], key=lambda t: t["job"]),
             "disks": [disk for _, disk in sorted(entry["disks"].items())]}
            for _, entry in sorted(hosts.items())]


def _alerts(alerts):
    """Firing alerts first, then pending ones, each by name."""
    shown = [{"name": alert["labels"].get("alertname", ""), "state": alert["state"],
              "severity": alert["labels"].get("severity", ""),
              "summary": alert.get("annotations", {}).get("summary", ""),
              "since": alert.get("activeAt"), "labels": alert["labels"]}
             for alert in alerts]
    return sorted(shown, key=lambda alert: (alert["state"] != "firing", alert["name"]))
