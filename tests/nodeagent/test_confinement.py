"""The renderer is confined: real POV-Ray, started by the real agent, reads only the job's
scene and POV-Ray's own files and writes only its work directory. POV-Ray 3.7 does not
enforce its own I/O settings for #fopen and #write, so without the kernel's Landlock each
of these scenes would read or write what it asks for; with it, each fails with POV-Ray's
reason and nothing outside is read or written."""
from PIL import Image

HEADER = ('#version 3.7;\nglobal_settings { assumed_gamma 1 }\n'
          'camera { location <0, 0, -3> look_at 0 }\n'
          'light_source { <2, 4, -3> color rgb 1 }\n')


def write_scene(tmp_path, body, name="scene.pov"):
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def render_failing(setup, tmp_path, body):
    """Render a one-frame job of ``body``; returns (api, job_id, job_dir) once it failed."""
    api = setup.api or setup.start_api(max_attempts=1)
    job_id, job_dir = setup.job(scene=write_scene(tmp_path, body), frames="1")
    agent = setup.agent(job_dir, job_id, "node-1")
    assert agent.wait() == 0, agent.output()
    frame = api.frames(job_id)[1]
    assert frame["state"] == "failed", frame
    return api, job_id, job_dir


def test_reading_another_jobs_files_or_the_agent_token_fails(setup, tmp_path):
    secret = tmp_path / "scratch" / "raycrafter" / "999" / "input" / "secret.inc"
    secret.parent.mkdir(parents=True)
    secret.write_text('"the other job\'s scene"\n')
    for target in (str(secret), "../agent.token"):
        api, job_id, job_dir = render_failing(
            setup, tmp_path, f'#fopen F "{target}" read\n#read (F, S)\n'
                             f'#debug concat("STOLEN=", S, "\\n")\nsphere {{ 0, 1 }}\n')
        log = api.frame_log(job_id, 1).replace("\n", "")  # POV-Ray wraps at 80 columns
        assert "Cannot open user file" in log and "STOLEN=" not in log
        error = api.frames(job_id)[1]["error"]
        assert "Cannot find file" in error and "reads only the scene's folder" in error


def test_including_a_file_outside_the_scene_fails(setup, tmp_path):
    outside = tmp_path / "outside.inc"
    outside.write_text("#declare Leaked = 1;\n")
    api, job_id, _ = render_failing(setup, tmp_path, f'#include "{outside}"\nsphere {{ 0, 1 }}\n')
    # POV-Ray wraps its messages at 80 columns, a long temporary path's anywhere in them.
    assert "Cannot open include file" in api.frame_log(job_id, 1).replace("\n", "")
    assert "reads only the scene's folder" in api.frames(job_id)[1]["error"]


def test_writing_outside_the_work_directory_fails_and_writes_nothing(setup, tmp_path):
    targets = [tmp_path / "written.txt", tmp_path / "scratch" / "raycrafter" / "evil.txt"]
    for target in targets:
        render_failing(setup, tmp_path, f'#fopen F "{target}" write\n#write (F, "x")\n'
                                        f'#fclose F\nsphere {{ 0, 1 }}\n')
        assert not target.exists()


def test_a_povray_ini_in_the_scene_is_not_read(setup, tmp_path):
    api = setup.start_api()
    marker = tmp_path / "shell-out-ran"
    job_id, job_dir = setup.job(scene=write_scene(tmp_path, "sphere { 0, 1 pigment { rgb 1 } }\n"),
                                frames="1")
    (job_dir / "input" / "povray.ini").write_text(
        f"Pre_Scene_Command=touch {marker}\nShellout_Security=none\nWidth=9\nHeight=7\n"
        f"Output_File_Name={tmp_path}/stolen.png\n")
    agent = setup.agent(job_dir, job_id, "node-1")
    assert agent.wait() == 0, agent.output()
    assert api.frames(job_id)[1]["state"] == "done"
    with Image.open(job_dir / "frames" / "frame_00001.png") as image:
        assert image.size == (64, 48)  # the job's size, not the povray.ini's
    assert not marker.exists() and not (tmp_path / "stolen.png").exists()


def test_a_scene_with_includes_in_subfolders_and_system_includes_renders(setup, tmp_path):
    api = setup.start_api()
    scene = write_scene(tmp_path, '#include "colors.inc"\n#include "inc/props.inc"\n'
                                  'sphere { 0, Radius pigment { Red } }\n')
    job_id, job_dir = setup.job(scene=scene, frames="1")
    (job_dir / "input" / "inc").mkdir()
    (job_dir / "input" / "inc" / "props.inc").write_text("#declare Radius = 1;\n")
    agent = setup.agent(job_dir, job_id, "node-1")
    assert agent.wait() == 0, agent.output()
    assert api.frames(job_id)[1]["state"] == "done", api.frame_log(job_id, 1)
