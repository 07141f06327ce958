"""The fronts as salt/cluster/fronts.sls installs them on the applied appliance: each
system's commands in its own bin/, all answering, and Slurm's own commands and its PBS
wrappers in /usr/bin left as they were."""
import pathlib
import subprocess

import pytest

from fronts_harness import COMMANDS

pytestmark = pytest.mark.apply

FRONTS = pathlib.Path("/opt/raycrafter/fronts")


@pytest.mark.parametrize("system", sorted(COMMANDS))
def test_each_system_has_its_commands_in_a_bin_of_its_own(system):
    assert sorted(path.name for path in (FRONTS / system / "bin").iterdir()) == \
        sorted(COMMANDS[system])


@pytest.mark.parametrize("system", ["pbspro", "torque"])
def test_the_installed_qstat_answers_from_slurm(system):
    done = subprocess.run([FRONTS / system / "bin" / "qstat", "-f"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done


def test_slurms_own_pbs_wrappers_stay_in_usr_bin():
    for name in ("qsub", "qstat", "qdel"):
        path = pathlib.Path("/usr/bin") / name
        assert path.exists() and "fronts" not in str(path.resolve())
        assert "slurm" in path.read_text(errors="replace").lower()
