"""The applied appliance's secrets, for the tests and benches that act as one of its
components would: the record's PGP messages (pillar/generate_secrets.py) decrypted with
this host's key, which ./appliance up keeps outside the pillar directory."""
import pathlib
import subprocess

import yaml

RECORD = pathlib.Path("/etc/raycrafter/pillar/secrets.sls")
GPG_KEYDIR = pathlib.Path("/etc/raycrafter/gpg")


def decrypted(message, keydir=GPG_KEYDIR):
    return subprocess.run(["gpg", "--batch", "--quiet", "--homedir", str(keydir), "--decrypt"],
                          input=message, capture_output=True, text=True, check=True).stdout


def appliance_secrets(record=RECORD, keydir=GPG_KEYDIR):
    """{name: value} of every secret of this host's appliance."""
    values = yaml.safe_load(pathlib.Path(record).read_text())["raycrafter_secrets"]
    return {key: decrypted(value, keydir) for key, value in values.items()}
