"""Run one renderer process: capture its output line by line, keep the tail, stop it on request.

Output is read as text with universal newlines, so the carriage-return progress counters
of POV-Ray arrive as separate lines instead of one endless line.
"""

import collections
import logging
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Callable, Deque, List, Optional

log = logging.getLogger("raycrafter_nodeagent.renderer")

# A renderer that ignores SIGTERM this long is killed.
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

    ``show_line`` decides, per output line, whether it is logged: every line is, except
    progress counters, which the renderer adapter thins out.
    """

    def __init__(self, argv: List[str], cwd: str, tail_lines: int,
                 show_line: Callable[[str], bool]) -> None:
        self.argv = argv
        self._cwd = cwd
        self._tail: Deque[str] = collections.deque(maxlen=tail_lines)
        self._show_line = show_line
        self._process: Optional[subprocess.Popen] = None
        self._stop_requested = False

    def run(self) -> RenderResult:
        started = time.monotonic()
        if self._stop_requested:
            return RenderResult(None, 0.0, "", True)
        try:
            self._process = subprocess.Popen(
                self.argv, cwd=self._cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, universal_newlines=True, errors="replace")
        except OSError as error:
            message = "cannot start %s: %s" % (self.argv[0], error)
            log.error(message)
            return RenderResult(None, 0.0, message, False)
        if self._stop_requested:  # asked while the process was being started
            self._process.terminate()
        watchdog = threading.Thread(target=self._kill_when_stop_ignored, args=(self._process,),
                                    name="renderer-watchdog", daemon=True)
        watchdog.start()
        assert self._process.stdout is not None
        for raw_line in self._process.stdout:
            line = raw_line.rstrip()
            if not line:
                continue
            self._tail.append(line)
            if self._show_line(line):
                log.info("%s", line)
        returncode = self._process.wait()
        watchdog.join()
        return RenderResult(returncode, time.monotonic() - started, "\n".join(self._tail),
                            self._stop_requested)

    def stop(self) -> None:
        """Ask the renderer to end with SIGTERM; the watchdog kills it after a grace time.

        Called from the lease keeper's thread or from a signal handler, so it takes no
        lock, logs nothing and does not wait.
        """
        self._stop_requested = True
        process = self._process
        if process is not None and process.returncode is None:
            process.terminate()

    def _kill_when_stop_ignored(self, process: subprocess.Popen) -> None:
        stop_seen_at: Optional[float] = None
        while process.poll() is None:
            if self._stop_requested:
                now = time.monotonic()
                stop_seen_at = stop_seen_at or now
                if now - stop_seen_at >= STOP_GRACE_SECONDS:
                    process.kill()
            time.sleep(WATCH_INTERVAL_SECONDS)
