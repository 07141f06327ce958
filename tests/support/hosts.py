"""Reaching the multi-host appliance's machines (tests/hosts): `./appliance hosts`,
commands over ssh with the key Vagrant gave each machine, and the route check that comes
before any traffic."""
import json
import os
import pathlib
import shlex
import subprocess

import yaml

from support.salt_tree import CATALOGUE

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
APPLIANCE = REPOSITORY / "appliance"
NETWORK = os.environ.get("RAYCRAFTER_HOSTS_NETWORK", "10.213.0")
BRIDGE = os.environ.get("RAYCRAFTER_HOSTS_BRIDGE", "rcbr0")
MASTER_ADDRESS = f"{NETWORK}.{CATALOGUE['master']['address']}"
# This machine's address on the bridge, where the hosts reach a test's own servers.
BRIDGE_ADDRESS = f"{NETWORK}.1"
# The machines as the Vagrantfile made them: {name: {roles, address}}. By default one
# machine per role of the catalogue, named after it.
PLAN = REPOSITORY / ".vagrant" / "raycrafter" / "machines.yaml"
# Where the master keeps the secrets, and the key they are encrypted to.
MASTER_SECRETS = "/srv/raycrafter-pillar/secrets.sls"
MASTER_GPG_KEYDIR = "/etc/salt/gpgkeys"


def machine_addresses():
    return {name: machine["address"] for name, machine in yaml.safe_load(PLAN.read_text()).items()}


def machine_roles():
    """{name: roles} of every machine the master assigns a role (the master has none)."""
    return {name: machine["roles"] for name, machine in yaml.safe_load(PLAN.read_text()).items()
            if machine["roles"]}


def appliance_hosts(*args, **kwargs):
    """`./appliance hosts ARGS`, its output kept (and shown when a test fails)."""
    return subprocess.run([str(APPLIANCE), "hosts", *args], capture_output=True, text=True,
                          cwd=REPOSITORY, **kwargs)


def assert_route_over_bridge(address):
    route = subprocess.run(["ip", "route", "get", address], capture_output=True, text=True,
                           check=True).stdout
    assert f" dev {BRIDGE} " in route, f"{address} is not reached over {BRIDGE}: {route}"


class Hosts:
    """Commands on the machines, over ssh across the bridge."""

    def __init__(self, first_up, reused=False):
        # What `./appliance hosts up` printed from nothing: the orchestration's highstates.
        self.first_up = first_up
        # Hosts left up by an earlier run (RAYCRAFTER_HOSTS_REUSE=1), not made by this one.
        self.reused = reused

    def run(self, machine, command, input=None):
        """Run a shell command as root on a machine; return its stdout."""
        result = self._ssh(machine, command, input=input, text=True)
        assert result.returncode == 0, f"{machine}: {command}\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def copy_folder(self, machine, folder, parent):
        """Copy a local folder into PARENT on a machine (replacing one of the same name)."""
        folder = pathlib.Path(folder)
        archive = subprocess.run(["tar", "-C", str(folder.parent), "-cf", "-", folder.name],
                                 capture_output=True, check=True).stdout
        parent, target = shlex.quote(parent), shlex.quote(f"{parent}/{folder.name}")
        result = self._ssh(machine, f"rm -rf {target} && mkdir -p {parent} && tar -C {parent} -xf -",
                           input=archive)
        assert result.returncode == 0, f"{machine}: copying {folder}\n{result.stderr}"

    @staticmethod
    def _ssh(machine, command, **kwargs):
        # Not `vagrant ssh NAME`: Vagrant takes a name that begins any machine's global id
        # (hex) for that id, so `vagrant ssh db` ran on the cluster host in a run whose
        # cluster's id began with "db". The address and the key are the ones Vagrant used.
        key = REPOSITORY / ".vagrant" / "machines" / machine / "lxc" / "private_key"
        return subprocess.run(
            ["ssh", "-q", "-i", str(key), "-o", "IdentitiesOnly=yes",
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
             f"vagrant@{machine_addresses()[machine]}", "sudo sh -c " + shlex.quote(command)],
            capture_output=True, **kwargs)

    def salt_json(self, *args):
        """`salt ARGS --out json --static` on the master: {minion: return}."""
        return json.loads(self.run("master", " ".join(["salt", "--out", "json", "--static",
                                                         *args])))

    def orchestrate(self):
        """The master's orchestration of every highstate, as JSON."""
        return json.loads(self.run("master", "salt-run --out json state.orchestrate salt.orch.highstate"))

    def master_secrets(self):
        """The deployment's secrets as the master generated them, decrypted there with its
        key (the record holds PGP messages only)."""
        decrypt = ("import json, subprocess, yaml\n"
                   f"record = yaml.safe_load(open('{MASTER_SECRETS}'))['raycrafter_secrets']\n"
                   "print(json.dumps({key: subprocess.run(['gpg', '--batch', '--quiet', '--homedir', "
                   f"'{MASTER_GPG_KEYDIR}', '--decrypt'], input=value, capture_output=True, text=True, "
                   "check=True).stdout for key, value in record.items()}))\n")
        return json.loads(self.run("master", f"/opt/raycrafter/salt/bin/python -c {shlex.quote(decrypt)}"))
