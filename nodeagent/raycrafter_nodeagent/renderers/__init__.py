"""Renderer adapters: each turns frames to render into a command line and knows where the
renderer put its images and how it reports progress. Running the command is process.py's.

``renders_runs`` says whether one process renders a run of consecutive frames (POV-Ray's
animation loop); a renderer without it is given one frame per process."""

from dataclasses import dataclass
from typing import Any, Dict

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
        """Where the renderer is asked to write; a fresh directory per lease, so an image
        left behind by an earlier, killed attempt can never be mistaken for this one."""
        return "%s/frame.png" % self.work_dir
