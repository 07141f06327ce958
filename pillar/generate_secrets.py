"""Generate this deployment's secrets pillar once, and keep it stable afterwards.

Every deployment gets its own passwords, tokens and SSH keys; none of them is ever a
literal in the repository. The file is written with mode 0600 (root only), and keys that
already exist are never rewritten, so a second run changes nothing and an operator may
replace any value by hand (for example with a site's own cluster key).

Each host holds only the secrets of its roles: beside PATH, secrets/ROLE.sls holds the
part ROLE_SECRETS gives that role, and pillar/top.sls hands a host the files of its roles
only (PATH itself is the generator's record and no host's pillar). Rewritten on every
run from PATH, so a value changed there by hand reaches the roles.

Usage: generate_secrets.py PATH      (writes PATH, e.g. /etc/raycrafter/pillar/secrets.sls)
"""
import os
import secrets
import subprocess
import sys
import tempfile

import yaml

TOKEN_KEYS = (
    "postgres_password",
    "rabbitmq_api_password",
    "rabbitmq_worker_password",
    "api_admin_token",
    "api_worker_token",
)

# Which role's hosts hold which secret. The worker never holds database credentials, the
# web host never the cluster key, and only web and worker hosts hold the tokens they use.
# Every host trusts the deployment CA's certificate; its private key is held by none: the
# salt master issues each host's certificate with it (pillar/tls.sls).
ROLE_SECRETS = {
    "db": ("postgres_password", "tls_ca_certificate"),
    "broker": ("rabbitmq_api_password", "rabbitmq_worker_password", "tls_ca_certificate"),
    "web": ("postgres_password", "rabbitmq_api_password", "api_admin_token",
            "api_worker_token", "tls_ca_certificate"),
    "worker": ("rabbitmq_worker_password", "api_worker_token", "cluster_ssh_private_key",
               "cluster_host_public_key", "tls_ca_certificate"),
    "cluster": ("cluster_ssh_public_key", "cluster_host_private_key",
                "cluster_host_public_key", "tls_ca_certificate"),
    "logging": ("tls_ca_certificate",),
}

# The deployment CA: ten years, ECDSA P-256 (which PostgreSQL, RabbitMQ's Erlang, nginx,
# syslog-ng and Python's ssl all accept).
CA_DAYS = 3650
CA_SUBJECT = "/O=Raycrafter appliance/CN=Raycrafter deployment CA"

# (private key, public key) pairs: the worker's key for the cluster login, and the host
# key of the stand-in cluster's sshd, which the worker pins in its known_hosts.
SSH_KEY_PAIRS = (
    ("cluster_ssh_private_key", "cluster_ssh_public_key", "raycrafter-worker"),
    ("cluster_host_private_key", "cluster_host_public_key", "raycrafter-cluster-host"),
)


def new_token():
    """A URL-safe random string of 256 bits that does not begin with '-': one in 64 would,
    and a command given it as an argument takes it for an option."""
    token = secrets.token_urlsafe(32)
    while token.startswith("-"):
        token = secrets.token_urlsafe(32)
    return token


def new_ssh_key_pair(comment):
    """Return (private, public) OpenSSH ed25519 keys made by ssh-keygen."""
    with tempfile.TemporaryDirectory() as workdir:
        path = os.path.join(workdir, "key")
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
            check=True,
        )
        with open(path) as private, open(path + ".pub") as public:
            return private.read(), public.read().strip()


def new_certificate_authority():
    """Return (private key, certificate) PEM of a new CA made by openssl."""
    with tempfile.TemporaryDirectory() as workdir:
        key, certificate = os.path.join(workdir, "ca.key"), os.path.join(workdir, "ca.crt")
        subprocess.run(
            ["openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-sha256", "-days", str(CA_DAYS),
             "-subj", CA_SUBJECT, "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-keyout", key, "-out", certificate],
            check=True, capture_output=True)
        with open(key) as private, open(certificate) as public:
            return private.read(), public.read()


def completed(existing):
    """Return the secrets with every missing value generated; existing values are kept."""
    values = dict(existing)
    for key in TOKEN_KEYS:
        values.setdefault(key, new_token())
    for private_key, public_key, comment in SSH_KEY_PAIRS:
        if private_key not in values or public_key not in values:
            values[private_key], values[public_key] = new_ssh_key_pair(comment)
    if "tls_ca_private_key" not in values or "tls_ca_certificate" not in values:
        values["tls_ca_private_key"], values["tls_ca_certificate"] = new_certificate_authority()
    return values


def write_private(path, text):
    """Write text to path atomically, readable by its owner only."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".secrets-")
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__.strip().splitlines()[-1] + "\n")
        return 2
    path = argv[1]
    existing = {}
    if os.path.exists(path):
        with open(path) as handle:
            existing = (yaml.safe_load(handle) or {}).get("raycrafter_secrets", {})
    values = completed(existing)
    header = "# Generated by pillar/generate_secrets.py. Root only; never commit.\n"
    if values != existing or not os.path.exists(path):
        write_private(path, header + yaml.safe_dump({"raycrafter_secrets": values},
                                                     default_flow_style=False))
        print("secrets: generated %s" % ", ".join(sorted(set(values) - set(existing))))
    os.chmod(path, 0o600)
    roles_dir = os.path.join(os.path.dirname(path), "secrets")
    for role, keys in ROLE_SECRETS.items():
        text = header + yaml.safe_dump(
            {"raycrafter_secrets": {key: values[key] for key in keys}}, default_flow_style=False)
        role_file = os.path.join(roles_dir, role + ".sls")
        if not os.path.exists(role_file) or open(role_file).read() != text:
            write_private(role_file, text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
