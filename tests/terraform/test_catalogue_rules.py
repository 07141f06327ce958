"""Terraform follows the deployment catalogue: in a copy whose catalogue moves the
database's port, adds a secret and adds a throwaway role (tests/support/catalogue_copy.py),
the shared module's hosts, address plan, rules and role assignment follow, with no change
to terraform/."""
import json
import shutil

import pytest
import yaml

import terraform_tools as tools
from support import catalogue_copy as copy


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, terraform):
    root = tmp_path_factory.mktemp("edited")
    repository = tools.HERE.parents[1]
    shutil.copytree(repository / "terraform", root / "terraform")
    for name in tools.READ_OUTSIDE:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(repository / name, root / name)
    catalogue = root / "pillar" / "catalogue.yaml"
    catalogue.write_text(yaml.safe_dump(copy.edited(yaml.safe_load(catalogue.read_text()))))
    module = root / "terraform" / "appliance"
    terraform(module, "init", "-input=false")
    roles = {"db": 1, "web": 1, "worker": 1, copy.ROLE: 2}
    terraform(module, "apply", "-input=false", "-auto-approve", "-var", f"roles={json.dumps(roles)}",
              "-var", "repository_url=https://git.example.org/raycrafter.git")
    return {name: value["value"] for name, value in json.loads(terraform(module, "output", "-json")).items()}


def test_the_new_role_gets_hosts_at_its_address_block(rendered):
    assert rendered["hosts"]["raycrafter-echo-1"] == {"role": copy.ROLE, "address": f"10.42.1.{copy.ROLE_BLOCK}"}
    assert rendered["hosts"]["raycrafter-echo-2"]["address"] == f"10.42.1.{copy.ROLE_BLOCK + 1}"


def test_the_rules_follow_the_moved_port_and_the_new_role(rendered):
    rules = {f"{rule['role']}:{rule['from_port']}-{rule['to_port']}<{rule['from_role']}"
             for rule in rendered["service_rules"].values()}
    port = copy.MOVED_PORT[2]
    assert f"db:{port}-{port}<web" in rules and "db:5432-5432<web" not in rules
    assert f"{copy.ROLE}:{copy.ROLE_PORT}-{copy.ROLE_PORT}<worker" in rules
    assert f"master:4505-4506<{copy.ROLE}" in rules


def test_the_master_assigns_the_new_role_to_its_hosts(rendered):
    files = {entry["path"]: entry["content"]
             for entry in yaml.safe_load(rendered["master_user_data"])["write_files"]}
    assigned = yaml.safe_load(files["/etc/raycrafter/pillar/roles.yaml"])
    assert assigned["raycrafter-echo-2"] == [copy.ROLE]
