"""terraform/openstack, checked without its provider: no package registry here ships the
OpenStack provider, so this tier never plans or applies the module (nor could it: there
is no OpenStack API here either). What is checked: Terraform loads the configuration and
the module it calls, every argument and block is one the provider's published schema
(provider 3.0.0) has, with every required argument set; the cloud-init the hosts boot with
comes from terraform/appliance, rendered in test_shared.py.
"""
import json
import subprocess

import pytest

import openstack_schema
import terraform_tools as tools

META_ARGUMENTS = {"count", "for_each", "depends_on", "lifecycle", "provider"}


@pytest.fixture(scope="module")
def init(tree, terraform):
    return terraform.run(tree / "openstack", "init", "-backend=false", "-input=false")


def test_terraform_loads_the_configuration_up_to_the_missing_provider(init):
    # init reads and checks every file and the module first; only then does it look for
    # providers. Its only complaint is the provider it cannot find in the mirror.
    assert "- appliance in ../appliance" in init.stdout
    assert init.stderr.count("Error:") == 1, init.stderr
    assert "terraform-provider-openstack/openstack" in init.stderr
    assert "Error: Failed to query available provider packages" in init.stderr


def test_plan_and_apply_are_not_run_here(init):
    """Plainly: without the provider (in no registry here) there is no plan and no apply
    of terraform/openstack in this tier. When a registry ships it, init succeeds, this test
    fails, and the tier should plan the module as it does terraform/aws."""
    assert init.returncode != 0
    assert not list(tools.MIRROR.glob("registry.terraform.io/terraform-provider-openstack/*"))


@pytest.fixture(scope="module")
def blocks(tree, namespace):
    return json.loads(subprocess.run(
        namespace.command([tools.PYTHON, tools.HERE / "hcl_blocks.py", tree / "openstack"]),
        check=True, capture_output=True, text=True).stdout)


@pytest.fixture(scope="module")
def schema(namespace):
    return openstack_schema.load(tools.OPENSTACK_SCHEMA)


def mismatches(where, body, arguments):
    """What body sets that the schema lacks, and what the schema requires that it omits."""
    problems = [f"{where}: no argument {name!r}" for name in body["arguments"]
                if name not in arguments and name not in META_ARGUMENTS]
    for name, nested in body["blocks"].items():
        if name == "lifecycle":
            continue
        if name not in arguments or arguments[name]["block"] is None:
            problems.append(f"{where}: no block {name!r}")
            continue
        for inner in nested:
            problems += mismatches(f"{where}.{name}", inner, arguments[name]["block"])
    problems += [f"{where}: required {name!r} not set" for name, argument in arguments.items()
                 if argument["required"] and name not in body["arguments"] and name not in body["blocks"]]
    return problems


def test_the_module_uses_the_resources_an_appliance_needs(blocks):
    kinds = {(block["kind"], block["type"]) for block in blocks}
    assert {("resource", "openstack_compute_instance_v2"), ("resource", "openstack_networking_network_v2"),
            ("resource", "openstack_networking_secgroup_v2"), ("resource", "openstack_networking_secgroup_rule_v2"),
            ("resource", "openstack_networking_port_v2")} <= kinds


def test_every_argument_and_block_is_in_the_provider_schema(blocks, schema):
    problems = []
    for block in blocks:
        key = (block["kind"], block["type"])
        assert key in schema, f"{block['type']} is not a {block['kind']} of the provider"
        problems += mismatches(f"{block['type']}.{block['name']}", block, schema[key])
    assert not problems, problems


def test_the_schema_check_finds_a_misspelt_argument(schema):
    # The check above could pass by finding nothing: a wrong name must be reported.
    instance = {"arguments": ["name", "flavour_name"], "blocks": {"network": [{"arguments": ["prot"], "blocks": {}}]}}
    assert mismatches("x", instance, schema[("resource", "openstack_compute_instance_v2")]) == [
        "x: no argument 'flavour_name'", "x.network: no argument 'prot'"]
    assert mismatches("rule", {"arguments": ["direction"], "blocks": {}},
                      schema[("resource", "openstack_networking_secgroup_rule_v2")]) == [
        "rule: required 'ethertype' not set", "rule: required 'security_group_id' not set"]
