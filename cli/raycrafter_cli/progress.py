"""Showing a job's progress while waiting: on a terminal a bar redrawn in place with
``\\r``; anywhere else (a pipe, a log file, CI) one plain line per change, with no
control characters."""
import shutil

from raycrafter_contract.states import FINAL_JOB_STATES

BAR_MAX = 40
BAR_MIN = 5


def for_stream(stream):
    return Bar(stream) if stream.isatty() else Lines(stream)


def clock(seconds):
    """``2:05`` or ``1:02:05``."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _counts(job):
    progress = job.progress
    failed = f", {progress['failed']} failed" if progress.get("failed") else ""
    return progress["done"], job.frames.count, failed


class Bar:
    """``job 12 [#######-------] 10/24 frames, running, elapsed 1:10, ETA 1:38``"""

    def __init__(self, stream):
        self._stream = stream
        self._shown = 0
        self._bar = BAR_MAX

    def update(self, job, elapsed, eta):
        done, total, failed = _counts(job)
        text = f"{done}/{total} frames{failed}, {job.state}, elapsed {clock(elapsed)}"
        if job.state not in FINAL_JOB_STATES:
            text += f", ETA {clock(eta) if eta is not None else '--:--'}"
        columns = shutil.get_terminal_size().columns - 1  # the last column would wrap
        prefix = f"job {job.id} "
        # The bar only ever narrows, so it does not jump as the text beside it changes.
        self._bar = min(self._bar, columns - len(prefix) - len(text) - 3)
        if self._bar >= BAR_MIN:
            filled = self._bar * done // total if total else 0
            prefix += f"[{'#' * filled}{'-' * (self._bar - filled)}] "
        self._draw((prefix + text)[:columns])

    def note(self, text):
        """A message on its own line; the bar is redrawn below it at the next update."""
        self._draw(text)
        self._stream.write("\n")
        self._shown = 0

    def finish(self):
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()
            self._shown = 0

    def _draw(self, line):
        self._stream.write("\r" + line.ljust(self._shown))
        self._stream.flush()
        self._shown = len(line)


class Lines:
    """``job 12: running, 10/24 frames done, elapsed 1:10, ETA 1:38``, once per change."""

    def __init__(self, stream):
        self._stream = stream
        self._last = None

    def update(self, job, elapsed, eta):
        done, total, failed = _counts(job)
        if (job.state, done, failed) == self._last:
            return
        self._last = (job.state, done, failed)
        estimate = f", ETA {clock(eta)}" if eta is not None else ""
        self.note(f"job {job.id}: {job.state}, {done}/{total} frames done{failed}, "
                  f"elapsed {clock(elapsed)}{estimate}")

    def note(self, text):
        self._stream.write(text + "\n")
        self._stream.flush()

    def finish(self):
        pass
