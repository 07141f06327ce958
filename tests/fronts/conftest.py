"""The fronts installed from this checkout, and one set of real jobs in the machine's
Slurm that every listing test reads: one running, one finished, one failed, one killed at
its walltime, one cancelled while it ran and one held.

Slurm forgets a finished job MinJobAge (300 s) after it ended, and Torque's front with
it, so the short jobs are submitted only once the walltime job is well on its way: all
of them then end within a minute or so of each other and stay listed while the tests
run. The jobs are submitted through both fronts' qsub, so that each request form is used.
"""
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from fronts_harness import Fronts, in_state, install
from support.polling import wait_for

# Paths longer than a line, so that both dialects wrap them.
LONG_DIRECTORY = "output-directory-with-a-name-long-enough-to-wrap-every-path-printed"
SLEEPER = "#!/bin/bash\nsleep 900\n"


@pytest.fixture(scope="session")
def fronts():
    directory = tempfile.mkdtemp(prefix="rc-fronts-", dir="/tmp")
    os.chmod(directory, 0o755)
    yield Fronts(install(directory))
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def job_directory():
    directory = pathlib.Path(tempfile.mkdtemp(prefix="rc-front-jobs-", dir="/tmp"))
    directory.chmod(0o755)
    (directory / LONG_DIRECTORY).mkdir()
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


ENDED = ("COMPLETED", "FAILED", "TIMEOUT", "CANCELLED")


class JobSet:
    """Submits through the fronts; `numbers[kind]` is each job's number."""

    def __init__(self, fronts, directory):
        self.fronts = fronts
        self.directory = directory
        self.tag = f"front{uuid.uuid4().hex[:6]}"
        self.numbers = {}

    def submit(self, kind, system, script, *options):
        path = self.directory / f"{self.tag}-{kind}.sh"
        path.write_text(script)
        done = self.fronts.run(system, "qsub", "-N", f"{self.tag}-{kind}", *options, path,
                               cwd=self.directory)
        assert done.returncode == 0 and done.stderr == "", done
        self.numbers[kind] = int(done.stdout.split(".")[0])
        return self.numbers[kind]

    def cancel_all(self):
        for number in self.numbers.values():
            subprocess.run(["scancel", str(number)], capture_output=True)


@pytest.fixture(scope="session")
def standin_jobs(fronts, job_directory):
    jobs = JobSet(fronts, job_directory)
    long_output = job_directory / LONG_DIRECTORY
    try:
        walltime = jobs.submit("walltime", "pbspro", SLEEPER, "-l", "walltime=00:01:00",
                               "-l", "select=1:ncpus=1", "-o", long_output)
        jobs.submit("held", "pbspro", SLEEPER, "-h", "-l", "select=1:ncpus=2:mpiprocs=2",
                    "-l", "walltime=00:05:00")
        started = wait_for(lambda: in_state(walltime, "RUNNING"), timeout=600, interval=1,
                           message="the walltime job to start")
        wait_for(lambda: time.time() - started["start_time"] > 30, timeout=60, interval=1)
        jobs.submit("finished", "pbspro",
                    "#!/bin/bash\n#PBS -l walltime=00:05:00\necho finished\n",
                    "-l", "select=1:ncpus=1", "-j", "oe")
        jobs.submit("failed", "torque", "#!/bin/bash\necho failing >&2\nexit 3\n",
                    "-l", "nodes=1:ppn=1,walltime=00:05:00", "-e", long_output)
        for kind in ("finished", "failed"):
            wait_for(lambda: in_state(jobs.numbers[kind], *ENDED), timeout=600, interval=1,
                     message=f"the {kind} job to end")
        cancelled = jobs.submit("cancelled", "torque", SLEEPER, "-l", "nodes=1:ppn=1",
                                "-l", "walltime=00:05:00")
        wait_for(lambda: in_state(cancelled, "RUNNING"), timeout=600, interval=1)
        deleted = fronts.run("torque", "qdel", cancelled)
        assert deleted.returncode == 0 and deleted.stderr == "", deleted
        wait_for(lambda: in_state(cancelled, *ENDED), timeout=120, interval=1)
        running = jobs.submit("running", "pbspro", SLEEPER, "-l", "walltime=00:10:00",
                              "-v", f"RAYCRAFTER_LONG_SETTING={'x' * 100}", "-o", long_output)
        wait_for(lambda: in_state(running, "RUNNING"), timeout=600, interval=1)
        wait_for(lambda: in_state(walltime, *ENDED), timeout=300, interval=1,
                 message="the walltime job to be ended by Slurm")
        yield jobs
    finally:
        jobs.cancel_all()
