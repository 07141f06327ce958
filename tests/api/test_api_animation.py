"""A job's animation and settings: the form fields, else the scene's own INI file, else the
frames asked for; what the INI file says that the appliance decides is ignored and said."""
import pytest

from support.api_testing import SCENE, assert_error, scene_upload, tar_gz

INI = (b"; as POV-Ray's sample animations write it\nAntialias=On\nAntialias_Threshold=0.2\n"
       b"Input_File_Name=orbit.pov\nInitial_Frame=1\nFinal_Frame=30\nInitial_Clock=0\n"
       b"Final_Clock=1\nCyclic_Animation=on ;; loops\nPause_when_Done=off\n"
       b"Pre_Frame_Command=touch /tmp/pwned\nOutput_File_Name=/etc/evil.png\nWidth=320\n")


def submit(world, members=(("orbit.pov", SCENE), ("orbit.ini", INI)), **fields):
    return world.alice.post("/jobs", files=scene_upload("orbit.tgz", tar_gz(members)),
                            data={"name": "orbit", **fields})


def first_event(world, job_id):
    return world.alice.get(f"/jobs/{job_id}/events").json()["events"][0]["reason"]


def test_the_ini_file_gives_the_animation_frames_size_and_quality(world):
    response = submit(world)
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["animation"] == {"initial_frame": 1, "final_frame": 30, "initial_clock": 0.0,
                                "final_clock": 1.0, "cyclic": True}
    assert (job["frames"]["first"], job["frames"]["last"], job["frames"]["count"]) == (1, 30, 30)
    assert (job["width"], job["height"]) == (320, 480)
    assert job["options"] == {"antialias": True, "antialias_threshold": 0.2}
    reason = first_event(world, job["id"])
    assert "settings from orbit.ini" in reason
    assert "Pre_Frame_Command (a shell-out" in reason
    assert "Output_File_Name (a path or an output setting" in reason
    assert "Pause_when_Done (not used by the appliance)" in reason


def test_frames_pick_a_subset_of_the_animation_and_fields_win_over_the_ini(world):
    job = submit(world, frames="5-6", width="64", options='{"antialias": false}').json()
    assert job["animation"]["final_frame"] == 30 and job["frames"]["count"] == 2
    assert (job["frames"]["first"], job["width"], job["options"]["antialias"]) == (5, 64, False)
    job = submit(world, frames="5-6", final_frame="60", cyclic="false",
                 initial_clock="0.25").json()
    assert job["animation"] == {"initial_frame": 1, "final_frame": 60, "initial_clock": 0.25,
                                "final_clock": 1.0, "cyclic": False}


def test_without_an_animation_the_frames_asked_for_are_the_animation(world):
    created = world.alice.post("/jobs", files=scene_upload("teapot.pov"),
                               data={"name": "teapot", "frames": "5-6"})
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["animation"] == {"initial_frame": 5, "final_frame": 6, "initial_clock": 0.0,
                                "final_clock": 1.0, "cyclic": False}
    assert (job["width"], job["height"]) == (640, 480)
    assert first_event(world, job["id"]) == "job created"


@pytest.mark.parametrize("fields, field, message", [
    ({"frames": "25-40"}, "frames", "frames 25-40 are outside the animation's frames 1-30"),
    ({"ini_file": "other.ini"}, "ini_file", "no INI file other.ini"),
    ({"final_frame": "ten"}, "final_frame", "a frame number"),
    ({"cyclic": "maybe"}, "cyclic", "true or false"),
    ({"initial_clock": "nan"}, "initial_clock", "finite number"),
    ({"initial_frame": "40"}, "final_frame", "final frame comes before the initial frame"),
])
def test_a_wrong_animation_is_a_400_naming_the_field(world, fields, field, message):
    body = assert_error(submit(world, **fields), 400, "invalid_field", field)
    assert message in body["message"]


def test_an_unreadable_ini_file_is_named(world):
    members = (("orbit.pov", SCENE), ("orbit.ini", b"Final_Frame=thirty\n"))
    body = assert_error(submit(world, members), 400, "invalid_field", "ini_file")
    assert "orbit.ini: line 1: Final_Frame=thirty is not a whole number" in body["message"]


def test_no_frames_and_no_animation_is_one_still_image(world):
    created = world.alice.post("/jobs", files=scene_upload("teapot.pov"), data={"name": "teapot"})
    assert created.status_code == 201, created.text
    job = created.json()
    assert (job["frames"]["first"], job["frames"]["count"]) == (1, 1)
    assert job["animation"]["initial_frame"] == job["animation"]["final_frame"] == 1


def test_the_ini_that_names_the_main_file_is_chosen(world):
    members = (("reflect.pov", SCENE), ("reflection.ini", b"Input_File_Name=reflect.pov\n"
                                                           b"Final_Frame=10\n"),
               ("unrelated.ini", b"Final_Frame=99\n"))
    job = submit(world, members).json()
    assert job["animation"]["final_frame"] == 10
    assert "settings from reflection.ini" in first_event(world, job["id"])
