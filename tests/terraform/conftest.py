"""The Terraform tier: Terraform, the providers and the fake EC2 API installed by the tier
itself (terraform_tools.py), each run in a network namespace of the tier's own that
holds only loopback, so nothing they do can reach beyond this machine (Terraform's
version check, a registry, a real cloud API: none is reachable, and none is tried).
"""
import os
import pathlib
import shutil
import subprocess

import pytest

import terraform_tools as tools

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]


class Namespace:
    """A network namespace with only loopback (up), held open by a sleeping process and
    entered with nsenter; it goes away with that process."""

    def __init__(self):
        self.holder = subprocess.Popen(["unshare", "--net", "--", "sleep", "infinity"])
        self.path = f"/proc/{self.holder.pid}/ns/net"
        own = os.readlink("/proc/self/ns/net")
        for _ in range(100):
            if os.path.exists(self.path) and os.readlink(self.path) != own:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        else:
            raise RuntimeError("unshare did not make a network namespace")
        subprocess.run(self.command(["ip", "link", "set", "lo", "up"]), check=True)

    def command(self, argv):
        return ["nsenter", f"--net={self.path}", "--", *map(str, argv)]

    def close(self):
        self.holder.kill()
        self.holder.wait()


@pytest.fixture(scope="session")
def namespace():
    # Installing needs the package registries: before anything runs in the namespace.
    tools.ensure_installed()
    space = Namespace()
    yield space
    space.close()


@pytest.fixture(scope="session")
def tree(tmp_path_factory):
    """A copy of terraform/ (and what the modules read beside it, where they read it), so
    that init's .terraform directories, lock files and state stay out of the repository."""
    root = tmp_path_factory.mktemp("tree")
    shutil.copytree(REPOSITORY / "terraform", root / "terraform")
    for name in tools.READ_OUTSIDE:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPOSITORY / name, root / name)
    return root / "terraform"


class Terraform:
    """Runs `terraform` in the namespace with a clean environment: no variable of this
    machine's (TF_*, AWS_*, OS_*) reaches it, only those a test gives."""

    def __init__(self, namespace, home):
        self.namespace = namespace
        self.home = home
        self.cli_config = tools.write_cli_config(home / "terraform.tfrc")

    def environment(self, extra=None):
        return {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "CHECKPOINT_DISABLE": "1",
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            "TF_IN_AUTOMATION": "1",
            **(extra or {}),
        }

    def run(self, directory, *args, env=None, timeout=300):
        return subprocess.run(self.namespace.command([tools.TERRAFORM, *args, "-no-color"]),
                              cwd=directory, env=self.environment(env), capture_output=True,
                              text=True, timeout=timeout)

    def __call__(self, directory, *args, env=None, timeout=300):
        """Run and require success; return stdout."""
        result = self.run(directory, *args, env=env, timeout=timeout)
        assert result.returncode == 0, f"terraform {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout


@pytest.fixture(scope="session")
def terraform(namespace, tmp_path_factory):
    return Terraform(namespace, tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="session")
def initialized(tree, terraform):
    """initialized(NAME): terraform/NAME in the copy, after `terraform init` (once)."""
    done = set()

    def initialize(name):
        if name not in done:
            terraform(tree / name, "init", "-input=false")
            done.add(name)
        return tree / name
    return initialize
