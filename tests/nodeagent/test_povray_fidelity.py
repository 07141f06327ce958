"""Frames rendered through the appliance are POV-Ray's own: POV-Ray's sample animations
(Debian's povray-examples), each submitted as its folder with its INI file, rendered by the
node agent, and compared pixel for pixel with ``povray SCENE.ini +SF N +EF N`` run by hand
in the same folder. Some frames of each, not all: the clock of a frame must come from its
place in the whole animation, whatever subset the job renders, and whether it was
rendered alone or in a chunk with the frames after it."""
import shutil
import subprocess
import tarfile

import pytest
from PIL import Image
from raycrafter_contract import scenes

from .conftest import make_job_dir

EXAMPLES = "/usr/share/doc/povray/examples/animations"
SIZE = ("64", "48")


def pixels(path):
    with Image.open(path) as image:
        return image.size, image.mode, list(image.getdata())


def by_hand(folder, ini, frame, out):
    out.parent.mkdir()
    subprocess.run(["povray", ini, f"+W{SIZE[0]}", f"+H{SIZE[1]}", f"+SF{frame}",
                    f"+EF{frame}", "-D", "-V", f"+O{out}"], cwd=folder, check=True,
                   capture_output=True, timeout=120)
    (image,) = out.parent.glob(out.stem + "*.png")
    return image


# The first claim of a job is one frame; once its render time is known the next claim is
# the rest, rendered as a chunk by one POV-Ray process (``chunk``).
@pytest.mark.parametrize("example, ini, frames, chunk", [
    ("camera2", "camera2.ini", "4-7", "5-7"),    # cyclic, 30 frames
    ("float1", "float1.ini", "49-51", "50-51"),  # not cyclic: the last frame reaches clock 1
    ("splinefollow", "splinefollow.ini", "20", None),  # switch lines, +kf0.1666, Declare=fp=0
])
def test_sample_animation_frames_match_povray_by_hand(setup, tmp_path, example, ini, frames,
                                                      chunk):
    folder = tmp_path / example
    shutil.copytree(f"{EXAMPLES}/{example}", folder)
    archive = tmp_path / f"{example}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=example)

    api = setup.start_api()
    job_id = api.create_job(archive, frames=frames, width=SIZE[0], height=SIZE[1], options=None,
                            upload_name=archive.name)
    job = api.job(job_id)
    token = api.submit(job_id)
    job_dir = make_job_dir(tmp_path / "scratch", job_id, archive, token)
    shutil.rmtree(job_dir / "input")
    scenes.unpack(str(archive), "tar.gz", str(job_dir / "input"))  # as the worker does
    agent = setup.agent(job_dir, job_id, "node-1")
    assert agent.wait(timeout=300) == 0, agent.output()

    if chunk:
        assert f"claimed frames {chunk}," in agent.output()
    numbers = range(job["frames"]["first"], job["frames"]["last"] + 1)
    first, _, last = frames.partition("-")
    assert job["animation"]["initial_frame"] == 1
    assert list(numbers) == list(range(int(first), int(last or first) + 1))
    for number in numbers:
        ours = job_dir / "frames" / f"frame_{number:05d}.png"
        theirs = by_hand(folder, ini, number, tmp_path / f"hand-{number}" / "frame.png")
        assert pixels(ours) == pixels(theirs), f"{example} frame {number} differs"
