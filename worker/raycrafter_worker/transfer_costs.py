"""What moving files to or from one cluster costs each way the site permits, and the way
chosen for each batch by that cost.

A way's cost is a start (GridFTP's ssh login, server and credential; a command that tars
or unpacks on the login node), a cost per file (round trips of SFTP's open and close,
GridFTP's credential per file, tar's headers) and a cost per byte, each measured on the
cluster (transfer_probe.py), never assumed: the same 500 frames are cheapest over GridFTP
from one site and over the SSH connection from another, and on a busy worker the start
of GridFTP costs several times what it costs on a quiet one. The probe measures the three
parts; each transfer then corrects the way it used (the ratio of what it took to what was
foreseen, averaged over the last few), so the figures follow the load between probes.

Ways (the keys of a CostProfile's ``ways``), each in one direction ("up" to the cluster,
"down" from it):
- ``stream``: one tar over the worker's SSH connection (frames down) or the scene's archive
  to the receiver on the login node (up);
- ``gridftp``: globus-url-copy, several files down as one bundle;
- ``sftp``: file by file over the SSH connection, with a window of requests in flight.
"""
import dataclasses
import threading
import time

# How much one transfer moves a way's correction; the rest is what earlier ones said.
_LEARNING_RATE = 0.3
_CORRECTION_BOUNDS = (0.1, 10.0)
MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class WayCost:
    """Seconds for a transfer of ``files`` files holding ``size`` bytes in all."""

    start: float
    per_file: float
    per_byte: float

    def seconds(self, files, size):
        return self.start + files * self.per_file + size * self.per_byte


@dataclasses.dataclass(frozen=True)
class Choice:
    way: str
    seconds: float
    reason: str


class CostProfile:
    """The measured costs of one cluster's ways: ``ways`` maps (way, direction) to a
    WayCost. ``source`` says where the figures come from (for the log)."""

    def __init__(self, ways, source, measured_at=None):
        self.ways = dict(ways)
        self.source = source
        self.measured_at = time.time() if measured_at is None else measured_at
        self._corrections = {}  # (way, direction) -> (factor, transfers seen)
        self._lock = threading.Lock()

    def estimate(self, way, direction, files, size):
        """Seconds this way is expected to take, corrected by past transfers; None for a
        way that was not measured (the site does not permit it, or its probe failed)."""
        cost = self.ways.get((way, direction))
        if cost is None:
            return None
        factor, _ = self._corrections.get((way, direction), (1.0, 0))
        return cost.seconds(files, size) * factor

    def choose(self, direction, candidates, what, added=None):
        """The cheapest of ``candidates``, a dict {way: (files, bytes)}, with the reason for
        the log; ``what`` names the batch. ``added`` gives a way the cost of another step
        it needs, as {way: (way, direction, files, bytes)}. With nothing measured the
        first candidate is taken."""
        estimates = {way: self.estimate(way, direction, *load)
                     for way, load in candidates.items()}
        for way, step in (added or {}).items():
            extra = self.estimate(*step)
            if estimates.get(way) is not None and extra is not None:
                estimates[way] += extra
        known = {way: seconds for way, seconds in estimates.items() if seconds is not None}
        if not known:
            way = "sftp" if "sftp" in candidates else next(iter(candidates))
            return Choice(way, 0.0, f"{what}: {way}, as no way to move it could be "
                                    f"measured; costs {self.describe()}")
        best = min(known, key=known.get)
        others = ", ".join(f"{way} {seconds:.2f} s" for way, seconds in
                           sorted(known.items(), key=lambda item: item[1]) if way != best)
        unmeasured = sorted(set(estimates) - set(known))
        files, size = candidates[best]
        reason = (f"{what}: {best}, about {known[best]:.2f} s for {files} file(s) of "
                  f"{size / MIB:.1f} MiB" + (f" (against {others})" if others else "")
                  + (f" ({', '.join(unmeasured)} not available)" if unmeasured else "")
                  + f"; costs {self.describe()}")
        return Choice(best, known[best], reason)

    def learn(self, way, direction, files, size, seconds):
        """Fold one transfer's time into the way's correction."""
        cost = self.ways.get((way, direction))
        foreseen = cost.seconds(files, size) if cost else 0
        if foreseen <= 0 or seconds <= 0:
            return
        ratio = min(max(seconds / foreseen, _CORRECTION_BOUNDS[0]), _CORRECTION_BOUNDS[1])
        with self._lock:
            factor, seen = self._corrections.get((way, direction), (1.0, 0))
            self._corrections[(way, direction)] = (
                (1 - _LEARNING_RATE) * factor + _LEARNING_RATE * ratio, seen + 1)

    def describe(self):
        seen = sum(count for _, count in self._corrections.values())
        age = time.time() - self.measured_at
        return (f"{self.source} {age:.0f} s ago" +
                (f", corrected by {seen} transfer(s) since" if seen else ""))

    def table(self):
        """The measured figures, one line per way and direction, for the log."""
        return "; ".join(
            f"{way} {direction}: start {cost.start * 1000:.1f} ms, "
            f"{cost.per_file * 1000:.2f} ms/file, "
            f"{(1 / cost.per_byte / MIB) if cost.per_byte else float('inf'):.0f} MiB/s"
            for (way, direction), cost in sorted(self.ways.items()))
