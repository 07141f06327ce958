#!py
"""This host's TLS certificate, issued by the deployment CA on the salt master, and its log
credential, with which its programs' log lines reach the log server (salt/logship).

Rendered by the master for each minion it compiles pillar for: the certificate names the
minion's ID (which the master knows from the minion's accepted key, so no host can obtain
a certificate for another's name), plus localhost for its own loopback clients. Peers
reach a host by that name (salt/common/discovery.jinja writes each host's /etc/hosts from
the Salt mine) and verify it against the CA. The CA's private key stays in the master's
record of the secrets (pillar/generate_secrets.py), which is no host's pillar, encrypted to
the master's GPG key (Salt's gpg_keydir), with which it is decrypted here.

Certificates are issued once, kept beside that record in certificates/ID.{key,crt} (root only),
and issued again when missing or no longer signed by the record's CA. A masterless host
(./appliance up) reaches every role over loopback and gets no certificate here.

The log credential (raycrafter_contract.log_credentials.issue_for_host: the minion's ID
signed with log_credential_key) is made the same way by the master for each minion, and by
a masterless host for itself from its own record; it is signed by the contract's own
module, loaded from the repository beside this pillar, so the rule stays in one place.
"""
import fcntl
import importlib.util
import os
import subprocess
import tempfile

import yaml

CERTIFICATE_DAYS = 825
RECORD = "secrets.sls"


def run():
    record = _record_path()
    if record is None:
        return {}
    with open(record) as handle:
        secrets = (yaml.safe_load(handle) or {}).get("raycrafter_secrets", {})
    pillar = _log_credential(secrets)
    if __opts__.get("__role") == "master" and "tls_ca_private_key" in secrets:
        pillar.update(_certificate(record, secrets))
    return pillar


def _log_credential(secrets):
    """This host's log credential, when the record holds the key and the contract's module
    is beside the pillar (the repository's checkout)."""
    module = _log_credentials_module()
    if "log_credential_key" not in secrets or module is None:
        return {}
    key = _decrypted(secrets["log_credential_key"]).strip().encode("utf-8")
    return {"raycrafter_log_host": {"credential": module.issue_for_host(key, __opts__["id"])}}


def _log_credentials_module():
    for root in __opts__.get("pillar_roots", {}).get("base", []):
        path = os.path.join(root, os.pardir, "contract", "raycrafter_contract",
                            "log_credentials.py")
        if os.path.isfile(path):
            spec = importlib.util.spec_from_file_location("raycrafter_log_credentials", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    return None


def _certificate(record, secrets):
    secrets = {key: _decrypted(secrets[key]) for key in ("tls_ca_private_key", "tls_ca_certificate")}
    name = __opts__["id"]
    directory = os.path.join(os.path.dirname(record), "certificates")
    key_path = os.path.join(directory, name + ".key")
    certificate_path = os.path.join(directory, name + ".crt")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    # The master may compile one minion's pillar in two processes at once: one issues,
    # and neither reads a key of one issue beside the certificate of another.
    with open(os.path.join(directory, name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Beside the targets, so that the finished files are renamed into place.
        with tempfile.TemporaryDirectory(dir=directory) as workdir:
            ca_path = _write(os.path.join(workdir, "ca.crt"), secrets["tls_ca_certificate"])
            if not _signed_by(certificate_path, ca_path, key_path):
                ca_key_path = _write(os.path.join(workdir, "ca.key"),
                                     secrets["tls_ca_private_key"])
                _issue(name, key_path, certificate_path, ca_path, ca_key_path, workdir)
        with open(key_path) as key, open(certificate_path) as certificate:
            return {"raycrafter_tls": {"name": name, "private_key": key.read(),
                                       "certificate": certificate.read()}}


def _record_path():
    """The secrets record in the master's pillar roots (the root-only directory beside
    the repository's pillar/, made by generate_secrets.py)."""
    for root in __opts__.get("pillar_roots", {}).get("base", []):
        path = os.path.join(root, RECORD)
        if os.path.isfile(path):
            return path
    return None


def _decrypted(value):
    """A value of the record in plain text: its PGP message decrypted with the master's key,
    as Salt's GPG renderer decrypts the roles' files."""
    if not value.startswith("-----BEGIN PGP MESSAGE-----"):
        return value
    # Where Salt's renderer looks too: gpg_keydir, else the configuration's gpgkeys.
    key_dir = __opts__.get("gpg_keydir") or os.path.join(__opts__["config_dir"], "gpgkeys")
    return subprocess.run(
        ["gpg", "--batch", "--quiet", "--homedir", key_dir, "--decrypt"],
        input=value, capture_output=True, text=True, check=True).stdout


def _write(path, text):
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    return path


def _signed_by(certificate_path, ca_path, key_path):
    if not (os.path.isfile(certificate_path) and os.path.isfile(key_path)):
        return False
    verified = subprocess.run(
        ["openssl", "verify", "-CAfile", ca_path, certificate_path], capture_output=True)
    return verified.returncode == 0


def _issue(name, key_path, certificate_path, ca_path, ca_key_path, workdir):
    request = os.path.join(workdir, "host.csr")
    extensions = _write(os.path.join(workdir, "host.ext"), "\n".join([
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth,clientAuth",
        "subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1" % name,
    ]) + "\n")
    new_key = os.path.join(workdir, "host.key")
    new_certificate = os.path.join(workdir, "host.crt")
    subprocess.run(
        ["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-subj", "/O=Raycrafter appliance/CN=" + name, "-keyout", new_key,
         "-out", request], check=True, capture_output=True)
    subprocess.run(
        ["openssl", "x509", "-req", "-in", request, "-CA", ca_path, "-CAkey", ca_key_path,
         "-CAcreateserial", "-CAserial", os.path.join(workdir, "ca.srl"), "-sha256",
         "-days", str(CERTIFICATE_DAYS), "-extfile", extensions, "-out", new_certificate],
        check=True, capture_output=True)
    for source, target in ((new_key, key_path), (new_certificate, certificate_path)):
        os.chmod(source, 0o600)
        os.replace(source, target)
