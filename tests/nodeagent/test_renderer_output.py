"""Renderer output is forwarded per frame within a budget of lines and bytes, keeping its
start and its end: a scene that prints without end fills neither the batch job's error
file (the agent's stderr), nor the log server, nor the frame's log tail in the API."""
import re

HEADER = ('#version 3.7;\nglobal_settings { assumed_gamma 1 }\n'
          'camera { location <0, 0, -3> look_at 0 }\n'
          'light_source { <2, 4, -3> color rgb 1 }\n'
          'sphere { <clock, 0, 0>, 1 pigment { rgb 1 } }\n')
LINE = "y" * 90
KIB = 1024


def test_a_scene_that_prints_without_end_is_forwarded_within_the_budget(setup, tmp_path):
    api = setup.start_api()
    receiver = setup.start_receiver()
    # 20,000 lines (2 MB), one line of 90,000 characters, then the last word.
    scene = tmp_path / "scene.pov"
    scene.write_text(HEADER + '#for (I, 1, 20000)\n#debug concat("line ", str(I, 0, 0), " %s\\n")\n'
                     '#end\n#for (I, 1, 1000)\n#debug "%s"\n#end\n#debug "\\nTHE END\\n"\n'
                     % (LINE, LINE))
    job_id, job_dir = setup.job(scene=scene, frames="1-3")
    agent = setup.agent(job_dir, job_id, "node-1", "--output-lines", "300", "--output-bytes",
                        "24K", log=True)
    assert agent.wait() == 0, agent.output()
    assert all(frame["state"] == "done" for frame in api.frames(job_id).values())

    stderr = agent.output()
    assert len(stderr.encode()) < 512 * KIB  # not the 6 MB the scene printed
    assert max(len(line) for line in stderr.splitlines()) < 1200  # the long line cut
    for number in (1, 2, 3):
        lines = re.findall(r"raycrafter_nodeagent\.renderer \[frame %d\]: (.*)" % number, stderr)
        assert len(lines) <= 301 and sum(len(line) + 1 for line in lines) <= 24 * KIB
        assert any(line.startswith("line 1 ") for line in lines)  # its start
        assert "THE END" in lines  # and its end
    assert len(re.findall(r"renderer output: \d+ lines? \(\d+ bytes\) left out", stderr)) == 3

    records = receiver.wait_for(lambda rs: any("exits with status 0" in r["short_message"]
                                               for r in rs))
    renderer = [r for r in records if r["facility"] == "raycrafter_nodeagent.renderer"]
    for number in (1, 2, 3):
        of_frame = [r["short_message"] for r in renderer if r["_frame"] == str(number)]
        assert len(of_frame) <= 301 and sum(len(m) for m in of_frame) <= 24 * KIB
        assert "THE END" in of_frame

    for number in (1, 2, 3):
        tail = api.frame_log(job_id, number)  # the end of the frame's output: its statistics
        assert len(tail.encode()) <= 16 * KIB and "Trace Time" in tail and "line 1 " not in tail
