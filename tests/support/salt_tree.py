"""This repository's Salt tree, as the tests point masterless minions at it, and the
pillar a deployment makes for it: the generated, encrypted secrets and the master's
assignment of roles (roles.yaml)."""
import pathlib
import subprocess
import sys

import yaml

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
CATALOGUE = yaml.safe_load((REPOSITORY / "pillar" / "catalogue.yaml").read_text())
# Every role of the deployment catalogue, in its order.
ROLES = tuple(CATALOGUE["roles"])


def make_pillar(pillar_dir, gpg_keydir, assignment, repository=REPOSITORY):
    """Generate a deployment's secrets into pillar_dir (encrypted to a key made in
    gpg_keydir, as the master's) with the repository's generator, and write the master's
    role assignment, {minion ID: [role, ...]}."""
    pillar_dir = pathlib.Path(pillar_dir)
    pillar_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(repository / "pillar" / "generate_secrets.py"),
                    str(pillar_dir / "secrets.sls"), "--gpg-keydir", str(gpg_keydir)],
                   check=True, capture_output=True)
    write_assignment(pillar_dir, assignment)


def stop_gpg_agent(gpg_keydir):
    """gpg starts an agent per key directory that outlives it: stop a test's own."""
    subprocess.run(["gpgconf", "--homedir", str(gpg_keydir), "--kill", "gpg-agent"],
                   capture_output=True)


def write_assignment(pillar_dir, assignment):
    (pathlib.Path(pillar_dir) / "roles.yaml").write_text(
        yaml.safe_dump({minion: list(roles) for minion, roles in assignment.items()}))


def write_consul_site(pillar_dir, agent_url):
    """site.sls of hosts that find each other through the Consul agent at agent_url. Such
    hosts serve their peers, so each needs a host certificate (under a master,
    pillar/tls.sls issues it): one self-signed pair stands in for it."""
    pillar_dir = pathlib.Path(pillar_dir)
    key, certificate = pillar_dir / "host.key", pillar_dir / "host.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=host",
                    "-keyout", str(key), "-out", str(certificate)], check=True, capture_output=True)
    (pillar_dir / "site.sls").write_text(yaml.safe_dump(
        {"raycrafter": {"common": {"discovery": "consul", "consul": {"agent": agent_url}}},
         "raycrafter_tls": {"name": "host", "certificate": certificate.read_text(),
                            "private_key": key.read_text()}}))


def masterless_config(pillar_dir, gpg_keydir, repository=REPOSITORY):
    """Minion settings for a masterless run over the repository with the given pillar;
    which roles the minion holds is roles.yaml's word there, by its ID."""
    return {
        "file_client": "local",
        "file_roots": {"base": [str(repository)]},
        "pillar_roots": {"base": [str(repository / "pillar"), str(pillar_dir)]},
        "file_ignore_regex": [r"/\.git($|/)"],
        "state_top": "top.sls",
        "gpg_keydir": str(gpg_keydir),
    }
