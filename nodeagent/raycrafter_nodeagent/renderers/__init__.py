"""Renderer adapters: each turns frames to render into a command line and knows which
files the renderer writes its images to and how it reports progress. Running the command
is process.py's.

``renders_runs`` says whether one process renders a run of consecutive frames (POV-Ray's
animation loop); a renderer without it is given one frame per process. The confined
renderer creates no file: the agent makes ``output_files`` (one image per frame, in frame
order) before the process starts, and ``discarded_files`` (what the renderer writes but
nobody reads) as links to /dev/null."""

from dataclasses import dataclass, replace
from typing import Any, Dict, List

from raycrafter_contract.animation import Animation


@dataclass(frozen=True)
class FrameTask:
    """Frames ``frame`` to ``last_frame`` (consecutive frames of the job, one renderer
    process), with every path already confined to the job's scratch directory."""

    frame: int
    last_frame: int
    first: int  # the job's frames, first to last
    last: int
    animation: Animation  # the POV-Ray animation they belong to
    width: int
    height: int
    options: Dict[str, Any]
    scene_path: str
    input_dir: str
    work_dir: str
    threads: int

    @property
    def output_path(self) -> str:
        """Where the renderer is asked to write; a fresh directory per renderer process,
        so nothing an earlier process left (an image of a killed attempt, a povray.ini a
        scene wrote) can be mistaken for this one's or read by it."""
        return "%s/frame.png" % self.work_dir

    def for_run(self, frames: List[int], work_dir: str) -> "FrameTask":
        """The same job's frames ``frames`` (consecutive), rendered in ``work_dir``."""
        return replace(self, frame=frames[0], last_frame=frames[-1], work_dir=work_dir)
