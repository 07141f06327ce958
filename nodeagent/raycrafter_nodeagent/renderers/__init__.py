"""Renderer adapters: each turns a frame to render into a command line and knows where the
renderer put its image and how it reports progress. Running the command is process.py's."""

from dataclasses import dataclass
from typing import Any, Dict

from raycrafter_contract.animation import Animation


@dataclass(frozen=True)
class FrameTask:
    """One frame to render, with every path already confined to the job's scratch directory."""

    frame: int
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
