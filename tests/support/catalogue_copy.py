"""A copy of the repository whose deployment catalogue changes one port, adds one secret
and adds a throwaway role: the tests of every reader of the catalogue (Salt, the secrets
generator, Terraform, Vagrant) make the same copy and show that each follows.

The throwaway role `echo` is what adding a role takes: an entry in pillar/catalogue.yaml
and a state folder of its own (salt/echo), nothing else.
"""
import pathlib
import shutil
import subprocess

import yaml

from support.salt_tree import CATALOGUE, REPOSITORY

ROLE = "echo"
MOVED_PORT = ("db", "postgresql", 6543)
NEW_SECRET = "echo_token"
ROLE_PORT = 7777
# The block after the last role's: a new role's hosts take addresses nobody holds.
ROLE_BLOCK = max(role["address_block"] for role in CATALOGUE["roles"].values()) + 10
ROLE_STATE = """# The throwaway role of tests/support/catalogue_copy.py.
echo-marker-file-managed:
  file.managed:
    - name: /tmp/raycrafter-echo-role-applied
    - contents: echo
"""


def edited(catalogue):
    """The catalogue with the port, the secret and the role changed."""
    role, service, port = MOVED_PORT
    catalogue["roles"][role]["services"][service]["port"] = port
    catalogue["secrets"][NEW_SECRET] = {"kind": "token"}
    catalogue["roles"]["web"]["secrets"].append(NEW_SECRET)
    catalogue["roles"][ROLE] = {
        "about": "a throwaway role",
        "states": ["salt." + ROLE],
        "packages": [],
        "secrets": [NEW_SECRET, "tls_ca_certificate"],
        "services": {ROLE: {"port": ROLE_PORT, "from": ["worker"], "why": "echo for the worker"}},
        "discovery": "raycrafter-" + ROLE,
        "address_block": ROLE_BLOCK,
        "stage": 2,
        "checks": {ROLE: {"command": "test -e /tmp/raycrafter-echo-role-applied"}},
    }
    return catalogue


def repository_copy(destination):
    """The repository's files (as git tracks them, with the working tree's changes) in
    destination, with the edited catalogue and the throwaway role's state folder."""
    destination = pathlib.Path(destination)
    listed = subprocess.run(["git", "-C", str(REPOSITORY), "ls-files", "-z", "--cached",
                             "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, listed):
        source = REPOSITORY / name.decode()
        if source.is_file():
            target = destination / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    catalogue = destination / "pillar" / "catalogue.yaml"
    catalogue.write_text(yaml.safe_dump(edited(yaml.safe_load(catalogue.read_text())),
                                        sort_keys=False))
    (destination / "salt" / ROLE).mkdir()
    (destination / "salt" / ROLE / "init.sls").write_text(ROLE_STATE)
    return destination
