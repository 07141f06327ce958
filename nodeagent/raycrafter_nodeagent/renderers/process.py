"""Run one renderer process: capture its output line by line, keep the tail, stop it on
request, and stop it when its work directory passes its cap.

Output is read in bounded lines (renderer_output.py), split at carriage returns too, so
POV-Ray's progress counters arrive as separate lines instead of one endless line.

The renderer runs in a process group of its own, and stopping it signals the whole group:
a renderer started through a wrapper script runs the real work as the wrapper's child,
which would otherwise outlive a stopped wrapper, keep rendering a frame that is no longer
ours and hold the output pipe open, so the agent could not move on until it ended.
"""

import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

from ..limits import ProcessLimits, directory_usage
from ..renderer_output import LOG_TAIL_BYTES, Tail, read_lines

log = logging.getLogger("raycrafter_nodeagent.renderer")

# A renderer (group) that ignores SIGTERM this long is killed.
STOP_GRACE_SECONDS = 5.0
# How often the work directory is measured: what a writer can add in this time is how
# far past its cap it can get where nothing else stops it (no Landlock).
WATCH_INTERVAL_SECONDS = 0.05


@dataclass(frozen=True)
class RenderResult:
    returncode: Optional[int]
    seconds: float
    log_tail: str
    stopped: bool
    limit_reason: Optional[str] = None  # the limit the renderer reached, if it ended so


class RenderProcess:
    """A renderer command, run in ``cwd`` (its work directory, measured against
    ``limits.work_dir_bytes``), that can be stopped from another thread or a signal handler.

    ``on_line`` is called with every output line as it arrives (the agent forwards it
    within its budget and learns from it when a frame of a run is finished), before the
    line joins the tail.
    """

    def __init__(self, argv: List[str], cwd: str, tail_lines: int,
                 on_line: Callable[[str], None], limits: ProcessLimits,
                 env: Optional[Dict[str, str]] = None) -> None:
        self.argv = argv
        self._cwd = cwd
        self._env = env
        self._tail_lines = tail_lines
        self._tail = Tail(tail_lines, LOG_TAIL_BYTES)
        self._on_line = on_line
        self._limits = limits
        self._process: Optional[subprocess.Popen] = None
        self._stop_requested = False
        self._over_cap: Optional[str] = None
        self._finished = threading.Event()

    def run(self) -> RenderResult:
        started = time.monotonic()
        if self._stop_requested:
            return RenderResult(None, 0.0, "", True)
        try:
            self._process = subprocess.Popen(
                self.argv, cwd=self._cwd, env=self._env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as error:
            message = "cannot start %s: %s" % (self.argv[0], error)
            log.error(message)
            return RenderResult(None, 0.0, message, False)
        if self._stop_requested:  # asked while the process was being started
            self._signal_group(signal.SIGTERM)
        watchdog = threading.Thread(target=self._watch, name="renderer-watchdog", daemon=True)
        watchdog.start()
        try:
            self._read_output()
            returncode = self._process.wait()
        finally:
            self._finished.set()
        watchdog.join()
        return RenderResult(returncode, time.monotonic() - started, self.log_tail(),
                            self._stop_requested,
                            self._over_cap or self._limits.explain(returncode))

    def log_tail(self) -> str:
        """The last lines of output so far (a frame finished while the process runs on)."""
        return self._tail.text()

    def new_tail(self) -> None:
        """Start the tail afresh from the line being read on: a new frame's (called by
        ``on_line``)."""
        self._tail = Tail(self._tail_lines, LOG_TAIL_BYTES)

    def _read_output(self) -> None:
        """Until every process of the group has closed the output pipe."""
        assert self._process is not None and self._process.stdout is not None
        for line in read_lines(self._process.stdout):
            self._on_line(line)
            self._tail.add(line)

    def stop(self) -> None:
        """Ask the renderer and every process it started to end with SIGTERM; the watchdog
        kills them after a grace time.

        Called from the lease keeper's thread or from a signal handler, so it takes no
        lock, logs nothing and does not wait.
        """
        self._stop_requested = True
        self._signal_group(signal.SIGTERM)

    def _signal_group(self, signum: int) -> None:
        """Signal the renderer's process group while any of it may still run.

        Once ``run`` has seen the output closed and reaped the renderer, the group may be
        empty and its number taken by someone else, so it is left alone.
        """
        process = self._process
        if process is None or self._finished.is_set():
            return
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            pass

    def _watch(self) -> None:
        """Kill the renderer at once when its work directory passes its cap, and when it
        ignored a stop for longer than the grace time."""
        stop_seen_at: Optional[float] = None
        while not self._finished.wait(WATCH_INTERVAL_SECONDS):
            if self._over_cap is None and \
                    directory_usage(self._cwd) > self._limits.work_dir_bytes:
                self._over_cap = ("its work directory passed its cap of %d bytes (the node "
                                  "agent's --max-work-dir-bytes)" % self._limits.work_dir_bytes)
                self._signal_group(signal.SIGKILL)
            if self._stop_requested:
                now = time.monotonic()
                stop_seen_at = stop_seen_at or now
                if now - stop_seen_at >= STOP_GRACE_SECONDS:
                    self._signal_group(signal.SIGKILL)
