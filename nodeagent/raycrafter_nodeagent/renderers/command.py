"""A renderer given by the operator as an argument list with placeholders.

The template comes from the node's configuration, never from a job: users choose a
renderer by name, they cannot choose what runs. Each placeholder fills one argument (no
shell is involved), so a scene path with spaces or quotes stays one argument.
"""

import string
from typing import Dict, List, Optional

from . import FrameTask

PLACEHOLDERS = ("scene", "output", "frame", "first", "last", "width", "height", "threads",
                "input_dir")


class CommandRenderer:
    """Runs ``template`` with placeholders such as ``{scene}``, ``{output}``, ``{frame:05d}``,
    once per frame."""

    renders_runs = False

    def __init__(self, name: str, template: List[str]) -> None:
        self.check_template(template)
        self.name = name
        self._template = list(template)

    @staticmethod
    def placeholder_help() -> str:
        return ", ".join("{%s}" % name for name in PLACEHOLDERS)

    @staticmethod
    def check_template(template: object) -> None:
        """Refuse anything but a list of strings using known placeholders by plain name
        (a format spec such as ``:05d`` is fine; ``{scene.__class__}`` is not)."""
        if not isinstance(template, list) or not template:
            raise ValueError("the template must be a non-empty JSON list of strings")
        for argument in template:
            if not isinstance(argument, str):
                raise ValueError("every argument must be a string, not %r" % (argument,))
            try:
                fields = [field for _, field, _, _ in string.Formatter().parse(argument)
                          if field is not None]
            except ValueError as error:
                raise ValueError("argument %r: %s" % (argument, error)) from None
            unknown = [field for field in fields if field not in PLACEHOLDERS]
            if unknown:
                raise ValueError("argument %r uses unknown placeholder(s) %s; known: %s" % (
                    argument, ", ".join(unknown), CommandRenderer.placeholder_help()))

    def command(self, task: FrameTask) -> List[str]:
        if task.options:
            raise ValueError("renderer %s takes no job options, got %s"
                             % (self.name, ", ".join(sorted(task.options))))
        values: Dict[str, object] = {
            "scene": task.scene_path, "output": task.output_path, "frame": task.frame,
            "first": task.first, "last": task.last, "width": task.width,
            "height": task.height, "threads": task.threads, "input_dir": task.input_dir,
        }
        return [argument.format(**values) for argument in self._template]

    @staticmethod
    def output_files(task: FrameTask) -> List[str]:
        return [task.output_path]

    @staticmethod
    def discarded_files(task: FrameTask) -> List[str]:
        return []

    @staticmethod
    def starts_frame(line: str) -> bool:
        """One frame per process: it is finished when the process ends."""
        return False

    def show_line(self, line: str) -> bool:
        return True

    def failure_detail(self, log_tail: str) -> Optional[str]:
        """Other renderers' messages are unknown; their last line is the best guess."""
        lines = log_tail.splitlines()
        return lines[-1] if lines else None
