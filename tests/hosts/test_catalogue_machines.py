"""Vagrant's machines follow the deployment catalogue: in a copy of the repository whose
catalogue adds a throwaway role (tests/support/catalogue_copy.py), the Vagrantfile makes a
machine for it at its address block and the master assigns it its role. Nothing is
started: Vagrant only reads the Vagrantfile (`vagrant status`)."""
import os
import subprocess

import pytest
import yaml

from support import catalogue_copy as copy
from support.hosts import NETWORK
from support.salt_tree import ROLES

pytestmark = pytest.mark.hosts


def test_the_vagrantfile_makes_a_machine_for_a_role_added_to_the_catalogue(tmp_path):
    tree = copy.repository_copy(tmp_path / "repository")
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("VAGRANT_", "RAYCRAFTER_HOSTS_"))}
    # The tier's network kept: the plan's addresses are on it.
    environment.update({"RAYCRAFTER_HOSTS_NETWORK": NETWORK, "VAGRANT_CWD": str(tree),
                        "VAGRANT_CHECKPOINT_DISABLE": "1",
                        "VAGRANT_BOX_UPDATE_CHECK_DISABLE": "1", "VAGRANT_DEFAULT_PROVIDER": "lxc"})
    status = subprocess.run(["vagrant", "status", "--machine-readable"], env=environment,
                            capture_output=True, text=True, cwd=tree)
    assert status.returncode == 0, status.stderr
    machines = {line.split(",")[1] for line in status.stdout.splitlines()
                if line.split(",")[2:3] == ["state"]}
    assert machines == set(ROLES) | {copy.ROLE, "master"}
    generated = tree / ".vagrant" / "raycrafter"
    plan = yaml.safe_load((generated / "machines.yaml").read_text())
    assert plan[copy.ROLE] == {"roles": [copy.ROLE], "address": f"{NETWORK}.{copy.ROLE_BLOCK}"}
    assert yaml.safe_load((generated / "master" / "roles.yaml").read_text())[copy.ROLE] == [copy.ROLE]
    # A minion says nothing of its roles: no grains file is made for any.
    assert not list(generated.glob("*/grains"))
