"""The generic command renderer: an operator's argument list, run without a shell.

The renderer here is tools/flat_png_renderer.py, which prints the arguments it received
and writes a real PNG, so the tests see exactly what the agent ran and what it reported.
"""

import hashlib
import json
import sys
from pathlib import Path

from .conftest import FLAT_PNG_RENDERER, png_size

# Each would do something if a shell ever saw it; each must arrive as one plain argument.
SHELL_BAIT = ["two words", "$(touch injected)", "`touch injected`", "; touch injected",
              "&& touch injected", "| tee injected", "> injected", "*.pov", "~", "$HOME",
              "it's \"quoted\"", "back\\slash", "\ttab and\nnewline"]


def renderer_option(name, *arguments):
    template = [sys.executable, str(FLAT_PNG_RENDERER), "{output}", "{width}", "{height}",
                *arguments]
    return "--renderer-command", "%s=%s" % (name, json.dumps(template))


def arguments_printed(log_tail):
    """What the renderer printed as its arguments: the JSON after ``arguments: ``."""
    (line,) = [line for line in log_tail.splitlines() if line.startswith("arguments: ")]
    return json.loads(line[len("arguments: "):])


def test_a_command_renderer_renders_each_frame_with_every_argument_passed_literally(setup,
                                                                                     tmp_path):
    api = setup.start_api()
    job_id, job_dir = setup.job(frames="1-2", width=40, height=30, renderer="flat")
    template_arguments = ["frame={frame:05d} of {first}-{last}", "{scene}", "{threads}",
                          "{{not a placeholder}}", *SHELL_BAIT]

    agent = setup.agent(job_dir, job_id, "node-1", *renderer_option("flat", *template_arguments))

    assert agent.wait() == 0, agent.output()
    frames = api.frames(job_id)
    for number in (1, 2):
        image = job_dir / "frames" / ("frame_%05d.png" % number)
        assert png_size(image) == (40, 30)
        assert frames[number]["state"] == "done"
        assert frames[number]["checksum"] == hashlib.sha256(image.read_bytes()).hexdigest()
        log_tail = api.frame_log(job_id, number)
        assert "wrote 40x30 image to " in log_tail
        printed = arguments_printed(log_tail)
        output = Path(printed[0])
        assert output.name == "frame.png"
        assert output.parent.parent == job_dir / "frames"
        assert output.parent.name.startswith(".work-%05d-" % number)
        assert printed[1:] == ["40", "30", "frame=%05d of 1-2" % number,
                               str(job_dir / "input" / "scene.pov"), "1",
                               "{not a placeholder}", *SHELL_BAIT]
    assert api.job(job_id)["state"] == "collecting"
    assert list(tmp_path.rglob("injected")) == []
    # The renderer's output is also in the agent's log, marked with its frame.
    assert "[frame 2]: wrote 40x30 image to" in agent.output()


def test_a_failing_command_renderer_fails_the_frame_with_its_last_line(setup):
    api = setup.start_api(max_attempts=1)
    job_id, job_dir = setup.job(frames="1", renderer="flat")

    agent = setup.agent(job_dir, job_id, "node-1", *renderer_option("flat", "--exit=3"))

    assert agent.wait() == 0, agent.output()
    frame = api.frames(job_id)[1]
    assert frame["state"] == "failed"
    assert frame["error"] == "flat exited with status 3: flat_png_renderer: giving up as asked"
    assert "giving up as asked" in api.frame_log(job_id, 1)
    assert api.job(job_id)["state"] == "failed"
    assert list((job_dir / "frames").iterdir()) == []
