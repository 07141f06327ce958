"""The stand-in's batch-system fronts, installed from this checkout into a directory of
their own the way salt/cluster/fronts.sls installs them, and run as commands."""
import json
import os
import pathlib
import shutil
import subprocess

SOURCE = pathlib.Path(__file__).resolve().parents[2] / "salt" / "cluster" / "files" / "fronts"
COMMANDS = {"pbspro": ("qsub", "qstat", "qdel"), "torque": ("qsub", "qstat", "qdel"),
            "alps": ("aprun",)}


def install(directory):
    """DIRECTORY/lib holds the launcher and its modules, DIRECTORY/SYSTEM/bin the links;
    everything is readable by every user, so that another account can run them too."""
    directory = pathlib.Path(directory)
    shutil.copy2(SOURCE / "front", directory / "front.tmp")
    (directory / "lib").mkdir()
    shutil.move(directory / "front.tmp", directory / "lib" / "front")
    shutil.copytree(SOURCE / "standin_fronts", directory / "lib" / "standin_fronts",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for system, names in COMMANDS.items():
        (directory / system / "bin").mkdir(parents=True)
        for name in names:
            (directory / system / "bin" / name).symlink_to("../../lib/front")
    for path in [directory, *directory.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or path.name == "front" else 0o644)
    return directory


class Fronts:
    """Runs SYSTEM's COMMAND with its arguments, as root or as another user."""

    def __init__(self, directory):
        self.directory = pathlib.Path(directory)

    def bin(self, system):
        return self.directory / system / "bin"

    def run(self, system, command, *args, user=None, env=None, stdin=None, cwd=None,
            timeout=120):
        argv = [str(self.bin(system) / command), *map(str, args)]
        if user:
            argv = ["runuser", "-u", user, "--", *argv]
        return subprocess.run(argv, input=stdin, capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)


def slurm_job(number):
    """Slurm's own record of a job (squeue --json, no front involved), or None."""
    listing = json.loads(subprocess.run(["squeue", "--json"], capture_output=True, text=True,
                                        check=True).stdout)
    return next((job for job in listing["jobs"] if job["job_id"] == number), None)


def in_state(number, *states):
    job = slurm_job(number)
    return job if job and job["job_state"] in states else None
