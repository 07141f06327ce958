"""terraform/aws (init, validate and the mocked tests are in test_shared.py): a real apply
and destroy with the AWS provider against moto's fake EC2 API
on 127.0.0.1 inside the tier's namespace. moto is the test double for EC2 here: no real
AWS API is reachable from the namespace, and none is tried.
"""
import json
import socket
import subprocess
import time

import pytest
import yaml

import terraform_tools as tools

ROLES = {"db": 1, "broker": 1, "web": 1, "worker": 2, "logging": 1, "cluster": 1}
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "eu-west-1"}
MINION_CONFIG = "/etc/salt/minion.d/raycrafter.conf"


@pytest.fixture(scope="module")
def aws(initialized):
    return initialized("aws")


def free_port(namespace):
    """A port nothing listens on inside the namespace (it is empty: any will do, but ask)."""
    script = "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
    return int(subprocess.run(namespace.command([tools.PYTHON, "-c", script]), check=True,
                              capture_output=True, text=True).stdout)


@pytest.fixture(scope="module")
def fake_ec2(namespace, tmp_path_factory):
    port = free_port(namespace)
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "w") as output:
        server = subprocess.Popen(namespace.command([tools.MOTO_SERVER, "-H", "127.0.0.1", "-p", port]),
                                  stdout=output, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), 1)"
    for _ in range(100):
        if subprocess.run(namespace.command([tools.PYTHON, "-c", probe]), capture_output=True).returncode == 0:
            break
        assert server.poll() is None, log.read_text()
        time.sleep(0.2)
    else:
        raise AssertionError(f"moto_server did not listen:\n{log.read_text()}")
    yield endpoint
    server.terminate()
    server.wait(timeout=30)


def ec2_facts(namespace, endpoint):
    result = subprocess.run(namespace.command([tools.PYTHON, tools.HERE / "ec2_facts.py", endpoint]),
                            env=FAKE_CREDENTIALS | {"PATH": "/usr/bin:/bin"}, check=True,
                            capture_output=True, text=True)
    return json.loads(result.stdout)


def fake_image(namespace, endpoint):
    """One of the AMIs moto knows (it refuses instances of any other)."""
    script = ("import boto3, sys; print(boto3.client('ec2', endpoint_url=sys.argv[1])"
              ".describe_images(Owners=['amazon'])['Images'][0]['ImageId'])")
    return subprocess.run(namespace.command([tools.PYTHON, "-c", script, endpoint]),
                          env=FAKE_CREDENTIALS | {"PATH": "/usr/bin:/bin"}, check=True,
                          capture_output=True, text=True).stdout.strip()


def minion_config(user_data):
    cloud_config = yaml.safe_load(user_data)
    [content] = [f["content"] for f in cloud_config["write_files"] if f["path"] == MINION_CONFIG]
    return yaml.safe_load(content)


@pytest.fixture(scope="module")
def applied(aws, terraform, namespace, fake_ec2):
    variables = ["-var", f"ec2_endpoint={fake_ec2}", "-var", f"image_id={fake_image(namespace, fake_ec2)}",
                 "-var", "repository_url=https://git.example.org/raycrafter.git",
                 "-var", f"roles={json.dumps(ROLES)}", "-var", "instance_types={}"]
    started = time.monotonic()
    terraform(aws, "apply", "-input=false", "-auto-approve", *variables, env=FAKE_CREDENTIALS, timeout=600)
    print(f"apply against the fake EC2 API: {time.monotonic() - started:.0f} s")
    outputs = json.loads(terraform(aws, "output", "-json"))
    facts = ec2_facts(namespace, fake_ec2)
    yield outputs, facts
    started = time.monotonic()
    terraform(aws, "destroy", "-input=false", "-auto-approve", *variables, env=FAKE_CREDENTIALS, timeout=600)
    print(f"destroy against the fake EC2 API: {time.monotonic() - started:.0f} s")
    after = ec2_facts(namespace, fake_ec2)
    running = {name: i["state"] for name, i in after["instances"].items() if i["state"] != "terminated"}
    assert not running, f"destroy left instances: {running}"
    assert not [name for name in after["groups"] if name.startswith("raycrafter-")], after["groups"]
    assert "10.42.0.0/16" not in after["vpcs"]


def test_apply_makes_one_instance_per_host_tagged_with_its_role(applied):
    _, facts = applied
    hosts = {name: (i["role"], i["private_ip"]) for name, i in facts["instances"].items()}
    assert hosts == {
        "raycrafter-master": ("master", "10.42.1.10"),
        "raycrafter-db-1": ("db", "10.42.1.20"), "raycrafter-broker-1": ("broker", "10.42.1.30"),
        "raycrafter-logging-1": ("logging", "10.42.1.40"), "raycrafter-web-1": ("web", "10.42.1.50"),
        "raycrafter-cluster-1": ("cluster", "10.42.1.60"),
        "raycrafter-worker-1": ("worker", "10.42.1.70"), "raycrafter-worker-2": ("worker", "10.42.1.71"),
    }
    assert {i["appliance"] for i in facts["instances"].values()} == {"raycrafter"}


def test_each_instance_got_user_data_naming_the_master_and_the_master_its_role(applied):
    _, facts = applied
    cloud_config = yaml.safe_load(facts["instances"]["raycrafter-master"]["user_data"])
    files = {f["path"]: f["content"] for f in cloud_config["write_files"]}
    assigned = yaml.safe_load(files["/etc/raycrafter/pillar/roles.yaml"])
    for name, instance in facts["instances"].items():
        if name == "raycrafter-master":
            continue
        assert instance["user_data"].startswith("#cloud-config\n")
        # A minion says nothing of its roles: the master assigns them.
        assert minion_config(instance["user_data"]) == {"master": "10.42.1.10", "id": name}
        assert assigned[name] == [instance["role"]]


def test_the_master_got_the_list_of_minions_it_accepts(applied):
    _, facts = applied
    cloud_config = yaml.safe_load(facts["instances"]["raycrafter-master"]["user_data"])
    files = {f["path"]: f["content"] for f in cloud_config["write_files"]}
    assert sorted(files["/etc/salt/autosign.conf"].split()) == sorted(
        name for name in facts["instances"] if name != "raycrafter-master")
    assert yaml.safe_load(files["/etc/salt/master.d/raycrafter.conf"])["interface"] == "10.42.1.10"


def test_each_role_group_admits_only_the_roles_that_use_it(applied):
    _, facts = applied
    groups = facts["groups"]
    assert groups["raycrafter-db"] == [{"ports": [5432, 5432], "from_groups": ["raycrafter-web"], "cidrs": []}]
    assert sorted(({**rule, "from_groups": sorted(rule["from_groups"])}
                   for rule in groups["raycrafter-logging"]), key=lambda rule: rule["ports"]) == [
        {"ports": [12201, 12201], "from_groups": ["raycrafter-broker", "raycrafter-cluster",
                                                  "raycrafter-db", "raycrafter-web",
                                                  "raycrafter-worker"], "cidrs": []},
        {"ports": [12202, 12202], "from_groups": ["raycrafter-web"], "cidrs": []}]
    assert groups["raycrafter-broker"][0]["ports"] == [5671, 5671]
    assert sorted(groups["raycrafter-broker"][0]["from_groups"]) == ["raycrafter-web", "raycrafter-worker"]
    assert len(groups["raycrafter-broker"]) == 1
    master = groups["raycrafter-master"]
    assert [rule["ports"] for rule in master] == [[4505, 4506]]
    assert master[0]["from_groups"] == sorted(f"raycrafter-{role}" for role in ROLES)
    for name, instance in facts["instances"].items():
        assert instance["groups"] == [f"raycrafter-{instance['role']}"], name


def test_outputs_name_the_master_and_the_web_host(applied):
    outputs, facts = applied
    assert outputs["master"]["value"]["private_ip"] == "10.42.1.10"
    assert outputs["web_address"]["value"], "no public address for the web host"
    assert set(outputs["hosts"]["value"]) == set(facts["instances"]) - {"raycrafter-master"}
