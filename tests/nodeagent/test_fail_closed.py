"""The renderer fails closed: on a kernel that refuses Landlock, the real agent renders
nothing unless the cluster profile allows rendering unconfined, and the job fails with a
reason naming the cluster and the setting instead of being retried.

The kernel here has Landlock, so the agent runs under tools/without_landlock.py: a
seccomp filter under which the kernel itself answers the Landlock calls with ENOSYS, for
the agent and every renderer it starts, as a kernel built without Landlock does.
"""
import subprocess
import sys

from .conftest import WITHOUT_LANDLOCK, png_size


def test_the_stand_in_kernel_really_refuses_landlock():
    probe = ("from raycrafter_nodeagent import confinement\n"
             "confinement.confine([], [])\n")
    refused = subprocess.run([sys.executable, str(WITHOUT_LANDLOCK), sys.executable, "-c",
                              probe], capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0 and "no Landlock" in refused.stderr
    allowed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             timeout=30)
    assert allowed.returncode == 0, allowed.stderr


def test_without_landlock_the_agent_renders_nothing_and_the_job_fails_saying_why(setup):
    api = setup.start_api(max_attempts=3)
    job_id, job_dir = setup.job(frames="1-4")
    agent = setup.agent(job_dir, job_id, "node-1", "--cluster", "archer",
                        without_landlock=True)
    assert agent.wait() == 0, agent.output()

    job = api.job(job_id)
    assert job["state"] == "failed"
    assert "cluster 'archer'" in job["error"] and "allow_unconfined" in job["error"]
    frames = api.frames(job_id)
    assert frames[1]["state"] == "failed" and frames[1]["attempts"] == 3
    assert "no Landlock" in frames[1]["error"]
    assert all(frames[n]["state"] == "pending" and frames[n]["attempts"] == 0
               for n in (2, 3, 4))
    assert list((job_dir / "frames").iterdir()) == []
    assert "rendering frame" not in agent.output()  # no renderer was started


def test_without_landlock_a_profile_that_allows_it_renders_unconfined_saying_so(setup):
    api = setup.start_api()
    job_id, job_dir = setup.job(frames="1-3")
    agent = setup.agent(job_dir, job_id, "node-1", "--cluster", "archer",
                        "--allow-unconfined", without_landlock=True)
    assert agent.wait() == 0, agent.output()

    assert api.job(job_id)["state"] == "collecting"
    for number in (1, 2, 3):
        assert png_size(job_dir / "frames" / ("frame_%05d.png" % number)) == (64, 48)
    # Each renderer process (frame 1, then frames 2-3) said so in the job's log.
    assert agent.output().count("the renderer runs unconfined") == 2
