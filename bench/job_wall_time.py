"""A job's wall time through the appliance against the same frames rendered by hand
(not a test; needs the appliance up on this host: ./appliance up).

    /opt/raycrafter/test/bin/python bench/job_wall_time.py [--frames 48 480] [--runs 1]

Through the appliance: ``raycrafter submit examples/orbit --frames 1-N --width 320
--height 240 --download DIR`` as root with root's CLI settings, from the submission to the
last frame downloaded (API, RabbitMQ, worker, SSH, Slurm, node agent, GridFTP, API).
By hand: the same frames as one Slurm batch job of the cluster user that runs POV-Ray's
own animation loop over them (``sbatch --wait --wrap 'povray ... +KFI1 +KFFN'``), from
``sbatch`` to the moment the batch job's script ends (it writes the time), on the same
stand-in cluster. The goal is at most
1.10 times the hand's time for 48 frames and 1.05 times for 480.
"""
import argparse
import pathlib
import shlex
import shutil
import subprocess
import tempfile
import time

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
SCENE = REPOSITORY / "examples" / "orbit"
CLI = "/usr/local/bin/raycrafter"
CLUSTER_USER = "render"
SCRATCH = "/srv/raycrafter/scratch"
WIDTH, HEIGHT = 320, 240
GOALS = {48: 1.10, 480: 1.05}


def by_hand(frames):
    """Seconds from sbatch to the end of one batch job rendering the frames with POV-Ray's
    animation loop, as the cluster user."""
    work = tempfile.mkdtemp(prefix="bench-hand-", dir=SCRATCH)
    try:
        shutil.copytree(SCENE, f"{work}/scene")
        shutil.chown(work, CLUSTER_USER)
        subprocess.run(["chown", "-R", CLUSTER_USER, work], check=True)
        povray = shlex.join(["povray", "+Iscene.pov", f"+O{work}/out/frame.png", "+FN",
                             f"+W{WIDTH}", f"+H{HEIGHT}", "-D", "-V", "+KFI1",
                             f"+KFF{frames}"])
        # The batch job writes the time it ended: `sbatch --wait` notices the end only at
        # its next look (after 2, 10, 42, 74... s: it sleeps 2 s, then 8, then 32 at a
        # time), which would charge up to 32 s of waiting to the hand.
        wrap = (f"mkdir -p {work}/out && cd {work}/scene && {povray} && "
                f"date +%s.%N > {work}/ended")
        started = time.time()
        subprocess.run(["runuser", "-u", CLUSTER_USER, "--", "sbatch", "--wait", "--quiet",
                        "-J", "bench-by-hand", "-o", f"{work}/batch.out", "-N", "1",
                        "--wrap", wrap], check=True, cwd=work)
        seconds = float(pathlib.Path(work, "ended").read_text()) - started
        rendered = len(list(pathlib.Path(work, "out").glob("*.png")))
        if rendered != frames:
            raise SystemExit(f"by hand: {rendered} of {frames} frames rendered; see "
                             f"{work}/batch.out")
        return seconds
    finally:
        shutil.rmtree(work, ignore_errors=True)


def through_the_appliance(frames):
    """Seconds from submission to every frame downloaded."""
    with tempfile.TemporaryDirectory(prefix="bench-appliance-") as out:
        started = time.monotonic()
        subprocess.run([CLI, "submit", str(SCENE), "--frames", f"1-{frames}", "--width",
                        str(WIDTH), "--height", str(HEIGHT), "--name", f"bench: {frames} frames",
                        "--download", out], check=True, stdout=subprocess.DEVNULL,
                       env={"HOME": "/root", "PATH": "/usr/bin:/bin"})
        seconds = time.monotonic() - started
        rendered = len(list(pathlib.Path(out).rglob("*.png")))
        if rendered != frames:
            raise SystemExit(f"through the appliance: {rendered} of {frames} frames downloaded")
        return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[48, 480])
    parser.add_argument("--runs", type=int, default=1, help="runs of each, alternating")
    args = parser.parse_args()
    print(f"{'frames':>6} {'run':>3} {'by hand s':>10} {'appliance s':>12} {'ratio':>6} "
          f"{'goal':>5}")
    for frames in args.frames:
        for run in range(1, args.runs + 1):
            hand = by_hand(frames)
            appliance = through_the_appliance(frames)
            goal = GOALS.get(frames)
            print(f"{frames:>6} {run:>3} {hand:>10.1f} {appliance:>12.1f} "
                  f"{appliance / hand:>6.2f} {goal if goal else '-':>5}", flush=True)


if __name__ == "__main__":
    main()
