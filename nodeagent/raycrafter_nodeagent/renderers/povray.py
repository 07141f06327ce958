"""POV-Ray 3.7 as a renderer: one frame of the job's animation per call."""

import re
from typing import Any, Dict, List, Optional

from raycrafter_contract.animation import check_povray_option

from . import FrameTask

PROGRESS = re.compile(r"^Rendered (\d+) of (\d+) pixels")
OUTPUT_FILE = re.compile(r"^\s*Output file\.+")
ERROR = re.compile(r"\b(Parse )?Error\b")
CANNOT_OPEN = re.compile(r"Cannot (find|open)")
# Said with every file POV-Ray could not open: the confined renderer (confinement.py) may
# read only the scene's own folder and POV-Ray's include files, and write nothing outside.
CONFINED_HINT = ("(the renderer reads only the scene's folder and POV-Ray's include files, "
                 "and writes only its output)")
OUT_OF_MEMORY = re.compile(r"bad_alloc|[Oo]ut of memory")
MEMORY_HINT = "(the renderer's memory is limited: the node agent's --max-memory-bytes)"

def option_switches(options: Dict[str, Any]) -> List[str]:
    """The POV-Ray switches for the job's options, e.g. ``{"quality": 9}`` -> ``+Q9``; each
    option is checked again by the API's rule, because it becomes a command-line switch."""
    for name, value in options.items():
        try:
            check_povray_option(name, value)
        except ValueError as error:
            raise ValueError("POV-Ray option %s=%r: %s" % (name, value, error)) from None
    switches = []
    threshold = options.get("antialias_threshold")
    if options.get("antialias") is False:
        switches.append("-A")
    elif options.get("antialias") or threshold is not None:
        # Always with a decimal point: POV-Ray refuses "+A0".
        switches.append("+A" + ("%.4f" % threshold if threshold is not None else ""))
    if "antialias_depth" in options:
        switches.append("+R%d" % options["antialias_depth"])
    if "quality" in options:
        switches.append("+Q%d" % options["quality"])
    for name, value in sorted(options.get("declare", {}).items()):
        switches.append("Declare=%s=%r" % (name, float(value)))
    return switches


class PovrayRenderer:
    """Renders frames A to B of the job's animation as the subset +SF A +EF B of the whole
    animation, in one process, so POV-Ray gives ``clock`` each frame's place in it, as
    when the animation is rendered by hand."""

    name = "povray"
    renders_runs = True

    def __init__(self, executable: str) -> None:
        self._executable = executable
        self._reported_percent = -1

    def command(self, task: FrameTask) -> List[str]:
        switches = option_switches(task.options)
        self._reported_percent = -1
        return [
            self._executable, "+I" + task.scene_path, "+O" + task.output_path, "+FN",
            "+W%d" % task.width, "+H%d" % task.height, "-D", "-V",
            "+WT%d" % task.threads, "+L" + task.input_dir,
        ] + task.animation.povray_switches(task.frame, task.last_frame) + switches

    @staticmethod
    def output_files(task: FrameTask) -> List[str]:
        """The image of each frame, in frame order. In animation mode POV-Ray appends the
        frame number to the output name, zero-padded to the digits of the animation's
        final frame (frame03.png of frames 1-12), and nothing for a one-frame animation."""
        animation = task.animation
        if animation.initial_frame == animation.final_frame:
            return [task.output_path]
        stem = task.output_path[:-len(".png")]
        digits = len(str(animation.final_frame))
        return ["%s%0*d.png" % (stem, digits, number)
                for number in range(task.frame, task.last_frame + 1)]

    def discarded_files(self, task: FrameTask) -> List[str]:
        """POV-Ray's render state file beside each image (``frame03.pov-state``), written
        as the frame renders for a continued render, which the agent never asks for: it
        can be many times the image's size."""
        return [image[:-len(".png")] + ".pov-state" for image in self.output_files(task)]

    @staticmethod
    def starts_frame(line: str) -> bool:
        """POV-Ray names each frame's output file as it begins the frame, after it wrote
        the previous frame's image: the line that says the previous frame is finished."""
        return OUTPUT_FILE.match(line) is not None

    def show_line(self, line: str) -> bool:
        """Pixel counters (printed with +V every 1024 pixels) are shown each 10 percent."""
        match = PROGRESS.match(line)
        if not match:
            return True
        done, total = int(match.group(1)), int(match.group(2))
        percent = 100 * done // total if total else 100
        if percent // 10 > self._reported_percent // 10:
            self._reported_percent = percent
            return True
        return False

    def failure_detail(self, log_tail: str) -> Optional[str]:
        """POV-Ray's first error message, with the lines it wrapped at 80 columns joined,
        e.g. ``File 'scene.pov' line 3: Parse Error: ...``: what a user needs to fix.
        Without one (a refused option, say), its last line."""
        lines = log_tail.splitlines()
        for index, line in enumerate(lines):
            if ERROR.search(line):
                message = [line.strip()]
                for continuation in lines[index + 1:]:
                    if not continuation.startswith(" "):
                        break
                    message.append(continuation.strip())
                if CANNOT_OPEN.search(line):
                    message.append(CONFINED_HINT)
                if OUT_OF_MEMORY.search(line):
                    message.append(MEMORY_HINT)
                return " ".join(message)
        return lines[-1] if lines else None
