"""The stand-in aprun inside a real batch job: claims the reservation cannot hold are
refused in ALPS's words, failed processing elements are reported as aprun reports them
(captures/real/alps-docs-aprun-messages.txt), and signals reach the application."""
import re
import subprocess

import pytest

from fronts_harness import in_state
from real_listings import REAL
from support.polling import wait_for

pytestmark = pytest.mark.apply

# Each claim runs in the batch job; its stdout, stderr and status go to files of its own.
CLAIMS = {
    "fits": "aprun -n 1 -N 1 -d 1 true",
    "too_many_nodes": "aprun -n 2 -N 1 hostname",
    "too_deep": "aprun -n 1 -d 4 hostname",
    "exits_5": "aprun -n 1 bash -c 'exit 5'",
    "killed": "aprun -n 1 bash -c 'kill -KILL $$'",
    "whole_reservation": "aprun -B bash -c 'echo $SLURM_NTASKS $SLURM_CPUS_PER_TASK'",
    "signalled": ("aprun -n 1 bash -c 'trap \"echo terminated; exit 0\" TERM; sleep 60 & wait' "
                  "& pid=$!; sleep 3; kill -TERM $pid; wait $pid"),
}


@pytest.fixture(scope="module")
def claims(fronts, tmp_path_factory):
    directory = tmp_path_factory.mktemp("aprun")
    lines = ["#!/bin/bash", f"export PATH={fronts.bin('alps')}:$PATH"]
    for name, command in CLAIMS.items():
        lines.append(f"( {command} ) > {directory}/{name}.out 2> {directory}/{name}.err; "
                     f"echo $? > {directory}/{name}.rc")
    script = directory / "claims.sh"
    script.write_text("\n".join(lines) + "\n")
    done = fronts.run("pbspro", "qsub", "-l", "select=1:ncpus=1", "-l", "walltime=00:05:00",
                      "-o", directory, "-e", directory, script, cwd=directory)
    assert done.returncode == 0, done
    number = int(done.stdout.split(".")[0])
    wait_for(lambda: in_state(number, "COMPLETED", "FAILED", "TIMEOUT", "CANCELLED"),
             timeout=600, interval=1, message="the aprun batch job")
    return {name: ((directory / f"{name}.out").read_text(), (directory / f"{name}.err").read_text(),
                   int((directory / f"{name}.rc").read_text())) for name in CLAIMS}


def documented(line):
    """The line as the ALPS sources quote it, found in the capture file."""
    text = (REAL / "alps-docs-aprun-messages.txt").read_text()
    assert line in text
    return line


def as_pattern(recorded):
    """A recorded summary line with its application id and counts left open."""
    return re.compile("^" + re.sub(r"\d+", r"\\d+", re.escape(recorded)) + "$")


def test_a_claim_the_reservation_holds_runs(claims):
    assert claims["fits"] == ("", "", 0)


def test_more_nodes_than_reserved_is_refused_as_alps_refuses_it(claims):
    line = documented("apsched: claim exceeds reservation's node-count")
    assert claims["too_many_nodes"] == ("", line + "\n", 1)


def test_a_depth_beyond_the_reserved_cpus_is_refused_as_alps_refuses_it(claims):
    line = documented("apsched: claim exceeds reservation's CPUs")
    assert claims["too_deep"] == ("", line + "\n", 1)


def test_a_failed_element_is_reported_with_its_exit_code(claims):
    stdout, _, status = claims["exits_5"]
    assert as_pattern(documented("Application 70046152 exit codes: 1")).match(stdout.strip())
    assert stdout.strip().endswith(": 5") and status == 5


def test_a_killed_element_is_reported_with_its_signal(claims):
    stdout, _, status = claims["killed"]
    assert as_pattern(documented("Application 23764253 exit signals: Killed")).match(
        stdout.strip())
    assert status != 0


def test_minus_b_takes_the_reservations_width_and_depth(claims):
    assert claims["whole_reservation"] == ("1 1\n", "", 0)


def test_a_signal_to_aprun_reaches_the_application(claims):
    stdout, _, status = claims["signalled"]
    assert "terminated" in stdout and status == 0


def test_outside_a_batch_job_nothing_is_started(fronts, tmp_path):
    marker = tmp_path / "started"
    done = subprocess.run([fronts.bin("alps") / "aprun", "-n", "1", "touch", marker],
                          capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 1 and done.stderr and not marker.exists()
