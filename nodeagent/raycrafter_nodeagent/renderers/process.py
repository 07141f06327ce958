"""Run one renderer process: capture its output line by line, keep the tail, stop it on request.

Output is read as text with universal newlines, so the carriage-return progress counters
of POV-Ray arrive as separate lines instead of one endless line.

The renderer runs in a process group of its own, and stopping it signals the whole group:
a renderer started through a wrapper script runs the real work as the wrapper's child,
which would otherwise outlive a stopped wrapper, keep rendering a frame that is no longer
ours and hold the output pipe open, so the agent could not move on until it ended.
"""

import collections
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Callable, Deque, Dict, List, Optional

log = logging.getLogger("raycrafter_nodeagent.renderer")

# A renderer (group) that ignores SIGTERM this long is killed.
STOP_GRACE_SECONDS = 5.0
WATCH_INTERVAL_SECONDS = 0.2


@dataclass(frozen=True)
class RenderResult:
    returncode: Optional[int]
    seconds: float
    log_tail: str
    stopped: bool


class RenderProcess:
    """A renderer command that can be stopped from another thread or a signal handler.

    ``show_line`` is called with every output line as it arrives and decides whether it
    is logged: every line is, except progress counters, which the renderer adapter thins
    out. (The agent also learns from it when a frame of a run is finished.)
    """

    def __init__(self, argv: List[str], cwd: str, tail_lines: int,
                 show_line: Callable[[str], bool],
                 env: Optional[Dict[str, str]] = None) -> None:
        self.argv = argv
        self._cwd = cwd
        self._env = env
        self._tail: Deque[str] = collections.deque(maxlen=tail_lines)
        self._show_line = show_line
        self._process: Optional[subprocess.Popen] = None
        self._stop_requested = False
        self._finished = threading.Event()

    def run(self) -> RenderResult:
        started = time.monotonic()
        if self._stop_requested:
            return RenderResult(None, 0.0, "", True)
        try:
            self._process = subprocess.Popen(
                self.argv, cwd=self._cwd, env=self._env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, universal_newlines=True, errors="replace",
                start_new_session=True)
        except OSError as error:
            message = "cannot start %s: %s" % (self.argv[0], error)
            log.error(message)
            return RenderResult(None, 0.0, message, False)
        if self._stop_requested:  # asked while the process was being started
            self._signal_group(signal.SIGTERM)
        watchdog = threading.Thread(target=self._kill_when_stop_ignored,
                                    name="renderer-watchdog", daemon=True)
        watchdog.start()
        try:
            self._read_output()
            returncode = self._process.wait()
        finally:
            self._finished.set()
        watchdog.join()
        return RenderResult(returncode, time.monotonic() - started, self.log_tail(),
                            self._stop_requested)

    def log_tail(self) -> str:
        """The last lines of output so far (a frame finished while the process runs on)."""
        return "\n".join(self._tail)

    def _read_output(self) -> None:
        """Until every process of the group has closed the output pipe."""
        assert self._process is not None and self._process.stdout is not None
        for raw_line in self._process.stdout:
            line = raw_line.rstrip()
            if not line:
                continue
            self._tail.append(line)
            if self._show_line(line):
                log.info("%s", line)

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

    def _kill_when_stop_ignored(self) -> None:
        stop_seen_at: Optional[float] = None
        while not self._finished.wait(WATCH_INTERVAL_SECONDS):
            if self._stop_requested:
                now = time.monotonic()
                stop_seen_at = stop_seen_at or now
                if now - stop_seen_at >= STOP_GRACE_SECONDS:
                    self._signal_group(signal.SIGKILL)
