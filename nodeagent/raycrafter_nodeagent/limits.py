"""What one renderer process may use: file size, memory, CPU time and its work directory.

The first three are the kernel's resource limits, set by the confinement wrapper
(confinement.py) just before it executes the renderer, so they hold for the renderer and
whatever it starts. The work directory's cap holds by construction where Landlock
confines the renderer: it may write only into the files the agent made for the run's
images, each at most ``file_bytes``, and a run has no more frames than those files fit
the cap. Without Landlock (a profile that allows it) the agent's watcher is what holds
it, by stopping a renderer whose work directory passes the cap (docs/nodeagent.md,
"What each renderer may use").
"""

import os
import resource
import signal
from dataclasses import dataclass
from typing import List, Optional

# Each entry of a work directory counts at least this much, so that many small or empty
# files count too (they cost the file system a block and an inode each).
ENTRY_BYTES = 4096
# What a PNG may hold besides its pixels (text, colour and gamma chunks) and its framing.
PNG_OVERHEAD_BYTES = 64 * 1024
# A renderer that goes on past SIGXCPU is killed this much CPU time later.
CPU_GRACE_SECONDS = 5
# The smallest file size limit an operator may set: room for a small image and its chunks.
SMALLEST_FILE_BYTES = 64 * 1024


def image_file_bytes(width: int, height: int) -> int:
    """The most a PNG of ``width`` x ``height`` pixels can take: 16-bit RGBA (8 bytes a
    pixel, the largest PNG pixel) stored uncompressed with a filter byte per row, plus a
    percent for zlib's and PNG's framing and room for metadata."""
    pixels = height * (1 + 8 * width)
    return pixels + pixels // 100 + PNG_OVERHEAD_BYTES


@dataclass(frozen=True)
class RendererLimits:
    """The agent's limits for every renderer process (its --max-* options)."""

    file_bytes: int
    memory_bytes: int
    cpu_seconds: int  # per frame and renderer thread
    work_dir_bytes: int

    def file_limit(self, width: int, height: int) -> int:
        """The size limit of each file a renderer of images this size writes: no more
        than such an image can need, and one frame's files within the cap."""
        return min(self.file_bytes, image_file_bytes(width, height),
                   self.work_dir_bytes - ENTRY_BYTES)

    def frames_per_process(self, width: int, height: int) -> int:
        """The longest run of frames whose files fit the work directory's cap: per
        frame its image (up to the file limit) and one more entry (POV-Ray's state
        file, which the agent points at /dev/null)."""
        per_frame = self.file_limit(width, height) + ENTRY_BYTES
        return max(1, self.work_dir_bytes // per_frame)

    def for_run(self, frames: int, threads: int, width: int, height: int) -> "ProcessLimits":
        return ProcessLimits(file_bytes=self.file_limit(width, height),
                             memory_bytes=self.memory_bytes,
                             cpu_seconds=self.cpu_seconds * frames * threads,
                             work_dir_bytes=self.work_dir_bytes)


@dataclass(frozen=True)
class ProcessLimits:
    """The limits of one renderer process."""

    file_bytes: int
    memory_bytes: int
    cpu_seconds: int
    work_dir_bytes: int

    def arguments(self) -> List[str]:
        """For the confinement wrapper, which applies the kernel's part (``apply``)."""
        return ["--file-bytes", str(self.file_bytes), "--memory-bytes", str(self.memory_bytes),
                "--cpu-seconds", str(self.cpu_seconds)]

    def explain(self, returncode: Optional[int]) -> Optional[str]:
        """What a renderer's end says about a limit it reached, if it does: the kernel
        ends a process with SIGXCPU or SIGXFSZ at these limits."""
        if returncode == -signal.SIGXCPU:
            return ("it used up its CPU time limit of %d s (the node agent's "
                    "--max-cpu-seconds per frame and thread)" % self.cpu_seconds)
        if returncode == -signal.SIGXFSZ:
            return ("it wrote a file past the file size limit of %d bytes (what an image "
                    "of the job's size can need, at most the node agent's "
                    "--max-file-bytes)" % self.file_bytes)
        return None


def apply(file_bytes: int, memory_bytes: int, cpu_seconds: int) -> None:
    """Limit this process and what it executes. Memory is RLIMIT_DATA, not RLIMIT_AS:
    every thread's malloc arena reserves address space it may never use, so RLIMIT_AS
    would refuse a multi-threaded renderer long before it used the memory given. No
    core files: a killed renderer's core could be as large as its memory."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + CPU_GRACE_SECONDS))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def directory_usage(path: str) -> int:
    """The bytes below ``path``, each entry counted as at least ``ENTRY_BYTES``;
    entries that vanish while they are counted count nothing."""
    total = 0
    try:
        entries = list(os.scandir(path))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                total += ENTRY_BYTES + directory_usage(entry.path)
            else:
                total += max(ENTRY_BYTES, entry.stat(follow_symlinks=False).st_size)
        except OSError:
            continue
    return total


def default_memory_bytes(slots: int) -> int:
    """The node's memory shared out between the render slots."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // slots
