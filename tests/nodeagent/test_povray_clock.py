"""POV-Ray's animation clock as the agent's command line sets it, checked with real povray:
every frame gets its place in the job's animation, whatever frames the job renders, and a
one-frame animation gets its initial clock (POV-Ray 3.7 would compute 0/0 = NaN)."""
import os
import re
import subprocess

import pytest

from raycrafter_contract.animation import Animation

from raycrafter_nodeagent.renderers import FrameTask
from raycrafter_nodeagent.renderers.povray import PovrayRenderer

# Prints the clock and refuses to render when it is not a number (NaN differs from itself).
CLOCK_SCENE = """\
#version 3.7;
#debug concat("clock=", str(clock, 0, 4), "\\n")
#if (clock != clock) #error "clock is not a number" #end
camera { location <0, 0, -3> look_at 0 }
light_source { <1, 1, -3> color rgb 1 }
sphere { <clock, 0, 0>, 1 pigment { color rgb 1 } }
"""


def clock_of(tmp_path, frame, first, last, animation=None):
    work_dir = tmp_path / f"work-{frame}-{first}-{last}"
    work_dir.mkdir()
    scene = tmp_path / "scene.pov"
    scene.write_text(CLOCK_SCENE)
    task = FrameTask(frame=frame, last_frame=frame, first=first, last=last,
                     animation=animation or Animation(first, last), width=16, height=12,
                     options={},
                     scene_path=str(scene), input_dir=str(tmp_path), work_dir=str(work_dir),
                     threads=1)
    renderer = PovrayRenderer("povray")
    result = subprocess.run(renderer.command(task), cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    # POV-Ray wrote its image where the agent expects it, and nothing else.
    [image] = renderer.output_files(task)
    assert os.listdir(work_dir) == [os.path.basename(image)], "povray wrote no image there"
    return float(re.search(r"clock=(\S+)", result.stderr).group(1))


@pytest.mark.parametrize("frame, expected", [(1, 0.0), (3, 0.5), (5, 1.0)])
def test_each_frame_of_a_range_gets_its_place_in_the_animation(tmp_path, frame, expected):
    assert clock_of(tmp_path, frame, 1, 5) == pytest.approx(expected)


def test_a_one_frame_job_renders_with_clock_zero(tmp_path):
    assert clock_of(tmp_path, 7, 7, 7) == 0.0


def test_frames_5_and_6_of_a_30_frame_animation_get_their_place_in_it(tmp_path):
    animation = Animation(1, 30)
    assert [clock_of(tmp_path, frame, 5, 6, animation) for frame in (5, 6)] == \
        pytest.approx([4 / 29, 5 / 29], abs=1e-4)
