"""What every module goes through: formatting, the namespace the tier runs in, init from
the filesystem mirror, validate and the module's own `terraform test`; and the cloud-init
of the shared module terraform/appliance, rendered and read as a host would."""
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


# Each module, its provider in the mirror, and how many runs its own tests have
# (terraform/NAME/tests/*.tftest.hcl; the cloud modules' with a mocked provider).
MODULES = {"appliance": (None, None, 9), "aws": ("hashicorp/aws", "3.39.0", 6),
           "lxd": ("sl1pm4t/lxd", "1.5.0", 3)}


@pytest.mark.parametrize("name", MODULES)
def test_init_takes_the_provider_from_the_mirror(name, initialized):
    source, version, _ = MODULES[name]
    directory = initialized(name)
    if source is None:
        assert not (directory / ".terraform.lock.hcl").exists(), "the shared module needs no provider"
    else:
        assert tools.locked_version(directory, source) == version


@pytest.mark.parametrize("name", MODULES)
def test_the_configuration_is_valid(name, initialized, terraform):
    assert "The configuration is valid" in terraform(initialized(name), "validate")


@pytest.mark.parametrize("name", MODULES)
def test_the_module_passes_its_own_terraform_tests(name, initialized, terraform):
    runs = MODULES[name][2]
    assert f"Success! {runs} passed, 0 failed." in terraform(initialized(name), "test")


@pytest.fixture(scope="module")
def appliance(initialized):
    return initialized("appliance")


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
    assert yaml.safe_load(site["content"])["raycrafter"]["common"] == {"network": "10.42.1.0/24"}
    assert master["gpg_keydir"] == "/etc/salt/gpgkeys"
    # Which minion holds which role is the master's word, written here and nowhere else.
    roles = files["/etc/raycrafter/pillar/roles.yaml"]
    assert roles["permissions"] == "0600"
    assert yaml.safe_load(roles["content"]) == {
        "raycrafter-db-1": ["db"], "raycrafter-broker-1": ["broker"], "raycrafter-web-1": ["web"],
        "raycrafter-worker-1": ["worker"], "raycrafter-worker-2": ["worker"],
        "raycrafter-logging-1": ["logging"], "raycrafter-cluster-1": ["cluster"]}


def test_the_master_makes_the_secrets_itself_after_cloning_the_repository(rendered):
    commands = yaml.safe_load(rendered["master_user_data"])["runcmd"]
    clone = next(command for command in commands if "git clone" in str(command))
    assert clone[-2:] == ["v1.0", "https://git.example.org/raycrafter.git"]
    assert commands.index(clone) < commands.index(
        ["/opt/raycrafter/salt/bin/python", "/srv/raycrafter/pillar/generate_secrets.py",
         "/etc/raycrafter/pillar/secrets.sls", "--gpg-keydir", "/etc/salt/gpgkeys"])
    assert "password" not in rendered["master_user_data"].lower()


def test_a_minion_installs_the_pinned_salt_with_the_appliance_constraints(rendered):
    files = files_of(rendered["minion_user_data"]["raycrafter-cluster-1"])
    # Every pinned line of salt/requirements.txt: Salt and the modules its states use.
    pinned = [line for line in (tools.HERE.parents[1] / "salt/requirements.txt").read_text().splitlines()
              if line and not line.startswith("#")]
    assert pinned[0].startswith("salt==") and any(line.startswith("py-consul==") for line in pinned)
    assert files["/etc/raycrafter/salt/requirements.txt"]["content"] == "\n".join(pinned) + "\n"
    assert files["/etc/raycrafter/salt/constraints.txt"]["content"] == (
        tools.HERE.parents[1] / "salt/constraints.txt").read_text()
    assert yaml.safe_load(rendered["minion_user_data"]["raycrafter-cluster-1"])["runcmd"] == [
        ["/usr/local/sbin/raycrafter-salt", "minion"]]
