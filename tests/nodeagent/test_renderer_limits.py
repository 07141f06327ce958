"""What one renderer process may use: the real agent, POV-Ray and the kernel's limits.

A scene may not create files: under Landlock its work directory holds only the files the
agent made for the run's images, each bounded by the file size limit, and a run has no
more frames than those files fit the work directory's cap. Without Landlock (allowed by
the profile) a watcher stops a renderer whose work directory passes the cap. CPU time and
memory are the kernel's limits too, and each process gets a fresh work directory.
"""
import re

from .conftest import WorkDirSampler, png_size

HEADER = ('#version 3.7;\nglobal_settings { assumed_gamma 1 }\n'
          'camera { location <0, 0, -3> look_at 0 }\n'
          'light_source { <2, 4, -3> color rgb 1 }\n'
          'sphere { <clock, 0, 0>, 1 pigment { rgb 1 } }\n')
KIB = 1024
LINE = "x" * 99  # POV-Ray refuses long string literals: files are written line by line


def write_scene(tmp_path, body):
    path = tmp_path / "scene.pov"
    path.write_text(HEADER + body)
    return path


def rendering_lines(agent):
    return re.findall(r"rendering (frames? [\d-]+):", agent.output())


def render(setup, tmp_path, body, frames, *agent_args, without_landlock=False, **api):
    """Render ``frames`` of a scene made of ``body`` while sampling the work directories;
    returns (api, job_id, job_dir, agent, sampler) once the agent has exited 0."""
    api = setup.start_api(**api)
    job_id, job_dir = setup.job(scene=write_scene(tmp_path, body), frames=frames)
    with WorkDirSampler(job_dir) as sampler:
        agent = setup.agent(job_dir, job_id, "node-1", *agent_args,
                            without_landlock=without_landlock)
        try:
            assert agent.wait(timeout=90) == 0, agent.output()
        finally:
            setup.orphans += agent.renderer_tree()
    return api, job_id, job_dir, agent, sampler


def test_a_file_written_past_the_file_size_limit_stops_the_renderer(setup, tmp_path):
    # 20 MB into the one file a one-frame run may write, its own image.
    body = ('#fopen F "frame.png" write\n#for (I, 1, 200000)\n'
            '#write (F, "%s\\n")\n#end\n#fclose F\n' % LINE)
    api, job_id, _, _, sampler = render(setup, tmp_path, body, "1", "--max-file-bytes", "1M",
                                        max_attempts=1)
    frame = api.frames(job_id)[1]
    assert frame["state"] == "failed"
    assert "file size limit" in frame["error"]
    # A 64x48 image needs far less than the 1M allowed: the job's own bound applied.
    assert 0 < sampler.peak_bytes <= 128 * KIB


def test_a_scene_creates_no_file_in_its_work_directory_however_small(setup, tmp_path):
    # Each frame would write 200 files of 1 KiB, far under any per-file limit.
    body = ('#for (I, 1, 200)\n#fopen F concat("junk-", str(frame_number * 1000 + I, 0, 0), ".txt")'
            ' write\n#for (J, 1, 10)\n#write (F, "%s\\n")\n#end\n#fclose F\n#end\n' % LINE)
    api, job_id, _, _, sampler = render(setup, tmp_path, body, "1-6",
                                        "--max-work-dir-bytes", "256K", max_attempts=1)
    frame = api.frames(job_id)[1]
    assert frame["state"] == "failed"
    assert "Cannot open user file" in api.frame_log(job_id, 1)
    assert "writes only its output" in frame["error"]
    assert not [name for name in sampler.names if name.startswith("junk-")]
    assert sampler.peak_bytes <= 256 * KIB


def test_many_frames_render_in_runs_whose_files_fit_the_work_directory_cap(setup, tmp_path):
    # Each frame fills the images of the frames after it in its run almost to the file
    # size limit (64 KiB), before POV-Ray writes them; runs of 4 frames fit 272 KiB (per
    # frame its image and POV-Ray's state file, an entry of 4 KiB).
    body = ('#for (N, 1, 20)\n#local Name = concat("frame", str(N, -2, 0), ".png");\n'
            '#if (N > frame_number & file_exists(Name))\n#fopen F Name write\n'
            '#for (I, 1, 600)\n#write (F, "%s\\n")\n#end\n#fclose F\n#end\n#end\n'
            % LINE)
    api, job_id, job_dir, agent, sampler = render(
        setup, tmp_path, body, "1-20",
        "--max-file-bytes", "64K", "--max-work-dir-bytes", "272K")
    assert rendering_lines(agent) == ["frame 1", "frames 2-5", "frames 6-9", "frames 10-13",
                                      "frames 14-17", "frames 18-20"]
    frames = api.frames(job_id)
    assert all(frames[n]["state"] == "done" for n in range(1, 21)), frames
    for number in range(1, 21):
        assert png_size(job_dir / "frames" / ("frame_%05d.png" % number)) == (64, 48)
    assert 170 * KIB <= sampler.peak_bytes <= 272 * KIB  # the scene did fill them
    assert {name.rsplit(".", 1)[1] for name in sampler.names} <= {"png", "pov-state"}


def test_unconfined_a_work_directory_past_its_cap_stops_the_renderer(setup, tmp_path):
    # 5,000 files of 4 KiB (20 MB), each far under the file size limit.
    body = ('#for (I, 1, 5000)\n#fopen F concat("junk-", str(I, 0, 0), ".txt") write\n'
            '#for (J, 1, 40)\n#write (F, "%s\\n")\n#end\n#fclose F\n#end\n'
            '#debug "ALL WRITTEN\\n"\n' % LINE)
    api, job_id, _, agent, sampler = render(
        setup, tmp_path, body, "1", "--allow-unconfined", "--max-work-dir-bytes", "1M",
        without_landlock=True, max_attempts=1)
    frame = api.frames(job_id)[1]
    assert frame["state"] == "failed"
    assert "work directory" in frame["error"] and "cap" in frame["error"]
    assert "ALL WRITTEN" not in agent.output()
    assert sampler.peak_bytes < 20 * 1024 * KIB


def test_a_renderer_past_its_cpu_time_is_stopped(setup, tmp_path):
    api, job_id, _, _, _ = render(setup, tmp_path, "#while (true)\n#end\n", "1",
                                  "--max-cpu-seconds", "2", max_attempts=1)
    frame = api.frames(job_id)[1]
    assert frame["state"] == "failed"
    assert "CPU time limit" in frame["error"]


def test_a_renderer_past_its_memory_is_refused_it(setup, tmp_path):
    # 100 million array entries are 800 MB of pointers.
    api, job_id, _, _, _ = render(setup, tmp_path, "#declare A = array[100000000];\n", "1",
                                  "--max-memory-bytes", "256M", max_attempts=1)
    frame = api.frames(job_id)[1]
    assert frame["state"] == "failed"
    assert "bad_alloc" in frame["error"] and "memory" in frame["error"]


def test_each_renderer_process_gets_a_fresh_work_directory(setup, tmp_path):
    # With a frame step above 1 each frame is a process of its own; each writes a
    # povray.ini into its working directory, which POV-Ray reads when it starts there.
    body = ('#ifdef (Leftover)\n#error "POV-Ray read a povray.ini an earlier frame left"\n'
            '#end\n#fopen F "povray.ini" write\n#write (F, "Declare=Leftover=1\\n")\n'
            '#fclose F\n')
    api, job_id, job_dir, agent, _ = render(setup, tmp_path, body, "1-9:2",
                                            "--allow-unconfined", without_landlock=True)
    assert rendering_lines(agent) == ["frame %d" % n for n in (1, 3, 5, 7, 9)]
    frames = api.frames(job_id)
    assert all(frames[n]["state"] == "done" for n in (1, 3, 5, 7, 9)), frames
    for number in (1, 3, 5, 7, 9):
        assert png_size(job_dir / "frames" / ("frame_%05d.png" % number)) == (64, 48)
