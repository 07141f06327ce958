"""What every module shares: formatting, the namespace the tier runs in, and the shared
module terraform/appliance (hosts, addresses, firewall rules, cloud-init) on its own."""
import json
import subprocess

import pytest
import yaml

import terraform_tools as tools


def test_the_namespace_has_loopback_and_no_route_anywhere_else(namespace):
    links = subprocess.run(namespace.command(["ip", "-o", "link", "show"]), check=True,
                           capture_output=True, text=True).stdout
    assert [line.split(": ")[1] for line in links.splitlines()] == ["lo"]
    # 192.0.2.1 (TEST-NET-1) stands for any address beyond this machine: a route lookup
    # sends nothing, and must find no way there.
    route = subprocess.run(namespace.command(["ip", "route", "get", "192.0.2.1"]),
                           capture_output=True, text=True)
    assert route.returncode != 0 and "unreachable" in route.stderr


def test_every_file_is_formatted(tree, terraform):
    result = terraform.run(tree, "fmt", "-check", "-recursive", "-diff")
    assert result.returncode == 0, f"run `terraform fmt -recursive terraform`:\n{result.stdout}"


@pytest.fixture(scope="module")
def appliance(tree, terraform):
    directory = tree / "appliance"
    terraform(directory, "init", "-input=false")
    return directory


def test_the_shared_module_passes_its_own_tests(appliance, terraform):
    # terraform/appliance/tests/appliance.tftest.hcl: addresses, rules, minion and master.
    assert "Success! 6 passed, 0 failed." in terraform(appliance, "test")


@pytest.fixture(scope="module")
def rendered(appliance, terraform):
    """The module's outputs: it has no resources, so an apply only evaluates it."""
    roles = {"db": 1, "broker": 1, "web": 1, "worker": 2, "logging": 1, "cluster": 1}
    terraform(appliance, "apply", "-input=false", "-auto-approve", "-var", f"roles={json.dumps(roles)}",
              "-var", "repository_url=https://git.example.org/raycrafter.git", "-var", "repository_ref=v1.0")
    return {name: value["value"] for name, value in json.loads(terraform(appliance, "output", "-json")).items()}


def files_of(user_data):
    assert user_data.startswith("#cloud-config\n")
    return {entry["path"]: entry for entry in yaml.safe_load(user_data)["write_files"]}


def test_the_salt_script_both_user_data_carry_is_valid_shell(rendered, tmp_path):
    scripts = {files_of(data)["/usr/local/sbin/raycrafter-salt"]["content"]
               for data in [rendered["master_user_data"], *rendered["minion_user_data"].values()]}
    assert len(scripts) == 1
    script = tmp_path / "raycrafter-salt"
    script.write_text(scripts.pop())
    subprocess.run(["sh", "-n", str(script)], check=True)


def test_the_master_serves_the_repository_and_a_pillar_of_its_own(rendered):
    files = files_of(rendered["master_user_data"])
    master = yaml.safe_load(files["/etc/salt/master.d/raycrafter.conf"]["content"])
    assert master["file_roots"] == {"base": ["/srv/raycrafter"]}
    assert master["pillar_roots"] == {"base": ["/srv/raycrafter/pillar", "/etc/raycrafter/pillar"]}
    assert master["autosign_file"] == "/etc/salt/autosign.conf" and master["auto_accept"] is False
    site = files["/etc/raycrafter/pillar/site.sls"]
    assert site["permissions"] == "0600"
    assert yaml.safe_load(site["content"])["raycrafter"]["common"]["hosts"] == {
        "db": "10.42.1.20", "broker": "10.42.1.30", "logging": "10.42.1.40", "web": "10.42.1.50"}


def test_the_master_makes_the_secrets_itself_after_cloning_the_repository(rendered):
    commands = yaml.safe_load(rendered["master_user_data"])["runcmd"]
    clone = next(command for command in commands if "git clone" in str(command))
    assert clone[-2:] == ["v1.0", "https://git.example.org/raycrafter.git"]
    assert commands.index(clone) < commands.index(
        ["/opt/raycrafter/salt/bin/python", "/srv/raycrafter/pillar/generate_secrets.py",
         "/etc/raycrafter/pillar/secrets.sls"])
    assert "password" not in rendered["master_user_data"].lower()


def test_a_minion_installs_the_pinned_salt_with_the_appliance_constraints(rendered):
    files = files_of(rendered["minion_user_data"]["raycrafter-cluster-1"])
    assert files["/etc/raycrafter/salt/requirements.txt"]["content"] == "salt==3008.3\n"
    assert files["/etc/raycrafter/salt/constraints.txt"]["content"] == (
        tools.HERE.parents[1] / "salt/constraints.txt").read_text()
    assert yaml.safe_load(rendered["minion_user_data"]["raycrafter-cluster-1"])["runcmd"] == [
        ["/usr/local/sbin/raycrafter-salt", "minion"]]
