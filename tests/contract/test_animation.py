"""Animations as POV-Ray defines them: the switches hand POV-Ray the whole animation and the
frames to render, and POV-Ray's own clock is the ground truth; INI files are read the way
POV-Ray's sample animations (Debian's povray-examples) write them."""
import pathlib
import re
import subprocess

import pytest

from raycrafter_contract.animation import (Animation, IniRejected, check_povray_option,
                                           parse_ini)

CLOCK_SCENE = ('#version 3.7;\nglobal_settings { assumed_gamma 1 }\n'
               '#debug concat("CLOCK=", str(clock, 0, 15), "\\n")\nbackground { rgb 0 }\n')
EXAMPLES = pathlib.Path("/usr/share/doc/povray/examples/animations")


def povray_clocks(tmp_path, switches):
    scene = tmp_path / "clock.pov"
    scene.write_text(CLOCK_SCENE)
    result = subprocess.run(["povray", f"+I{scene}", f"+O{tmp_path}/out.png", "+FN", "+W1",
                             "+H1", "-D", *switches], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    return re.findall(r"CLOCK=(\S+)", result.stdout + result.stderr)


@pytest.mark.parametrize("animation, first, last", [
    (Animation(1, 30), 5, 6),
    (Animation(1, 30, cyclic=True), 5, 6),
    (Animation(0, 10, 2.0, -3.0), 10, 10),
    (Animation(1, 5, 1e-05, 2.5), 2, 4),
])
def test_povray_gives_each_frame_the_clock_of_its_place_in_the_whole_animation(
        tmp_path, animation, first, last):
    by_hand = [f"+KFI{animation.initial_frame}", f"+KFF{animation.final_frame}",
               f"+KI{animation.initial_clock}", f"+KF{animation.final_clock}",
               "+KC" if animation.cyclic else "-KC"]
    expected = povray_clocks(tmp_path, by_hand + [f"+SF{first}", f"+EF{last}"])
    assert len(expected) == last - first + 1
    assert povray_clocks(tmp_path, animation.povray_switches(first, last)) == expected


def test_frames_5_and_6_of_30_have_the_clock_povray_gives_them(tmp_path):
    clocks = povray_clocks(tmp_path, Animation(1, 30).povray_switches(5, 6))
    assert [float(c) for c in clocks] == pytest.approx([4 / 29, 5 / 29], rel=1e-6)


def test_one_frame_gets_its_initial_clock_rather_than_nan(tmp_path):
    assert povray_clocks(tmp_path, Animation(3, 3, 0.5, 2.0).povray_switches(3, 3)) == [
        "0.500000000000000"]


def test_frames_outside_the_animation_are_refused():
    with pytest.raises(ValueError, match="outside"):
        Animation(1, 10).povray_switches(0, 3)


def test_the_sample_animations_ini_files_are_read():
    settings = parse_ini((EXAMPLES / "camera2" / "camera2.ini").read_text())
    assert settings.animation == {"initial_frame": 1, "final_frame": 30, "initial_clock": 0.0,
                                  "final_clock": 1.0, "cyclic": True}
    assert settings.options == {"antialias": True, "antialias_threshold": 0.2,
                                "antialias_depth": 3}
    assert settings.main_file == "camera2.pov"
    assert [key for key, _ in settings.ignored] == ["Pause_when_Done"]
    every = [parse_ini(path.read_text()) for path in sorted(EXAMPLES.glob("*/*.ini"))]
    assert len(every) >= 15 and all(s.animation.get("final_frame", 0) > 1 for s in every)


def test_switch_lines_and_declares_are_read_as_povray_reads_them():
    settings = parse_ini((EXAMPLES / "splinefollow" / "splinefollow.ini").read_text())
    assert settings.animation == {"final_frame": 20, "final_clock": 0.1666, "cyclic": True}
    assert settings.options["declare"] == {"fp": 0.0}
    settings = parse_ini("+kfi0 +KFF9 +ki-1 +a0.3 -KC +w320 +H240 +SF2 +EF3 +Q9 +R2")
    assert settings.animation == {"initial_frame": 0, "final_frame": 9, "initial_clock": -1.0,
                                  "cyclic": False}
    assert settings.options == {"antialias": True, "antialias_threshold": 0.3,
                                "antialias_depth": 2, "quality": 9}
    assert settings.size == {"width": 320, "height": 240} and settings.subset == (2, 3)


def test_what_the_appliance_decides_is_ignored_and_said():
    settings = parse_ini("Pre_Frame_Command=rm -rf ~ ; shell-out\n"
                         "Output_File_Name=/etc/evil.png\nLibrary_Path=/home\n"
                         "Subset_Start_Frame=3\nSubset_End_Frame=4\nWidth=320\n"
                         "+O/etc/evil.png +FN\n[Other]\nFinal_Frame=99\n")
    why = dict(settings.ignored)
    assert "shell-out" in why["Pre_Frame_Command"]
    assert "path or an output" in why["Output_File_Name"]
    assert "path or an output" in why["Library_Path"]
    assert "switch the appliance does not read" in why["+O/etc/evil.png"]
    assert "sections" in why["[Other]"]
    assert settings.subset == (3, 4) and settings.size == {"width": 320}
    assert "final_frame" not in settings.animation


@pytest.mark.parametrize("text, message", [
    ("Initial_Frame=one", "line 1: Initial_Frame=one is not a whole number"),
    ("Final_Clock=nan", "is not a number"),
    ("Antialias=maybe", "is not On or Off"),
    ("Quality=12", "quality must be between 0 and 11"),
])
def test_an_unreadable_value_is_refused_with_its_line(text, message):
    with pytest.raises(IniRejected, match=re.escape(message)):
        parse_ini(text)


@pytest.mark.parametrize("name, value, message", [
    ("quality", True, "must be an integer"), ("quality", 9.5, "must be an integer"),
    ("antialias", 1, "true or false"), ("antialias_threshold", 4, "between 0.0 and 3.0"),
    ("shellout", 1, "unknown option"), ("declare", {"a b": 1}, "not a POV-Ray identifier"),
    ("declare", {"fp": "x"}, "finite number"), ("declare", [1], "an object"),
])
def test_options_are_an_allow_list_with_bounds(name, value, message):
    with pytest.raises(ValueError, match=message):
        check_povray_option(name, value)
    assert check_povray_option("antialias_threshold", 1) == 1
