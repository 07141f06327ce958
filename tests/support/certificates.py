"""Throwaway certificate authorities for TLS tests, made with the openssl command line tool
(installed wherever ca-certificates is), so the tests need no extra Python package.

Keys are P-256 and unencrypted (servers read them without a passphrase); the
certificates carry what strict verifiers insist on: a CA marked as such and a server
certificate whose names are in subjectAltName.
"""

import subprocess
from dataclasses import dataclass
from pathlib import Path

NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc"]
SERVER_EXTENSIONS = """\
subjectAltName = DNS:{host_name}
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
"""


def openssl(*args):
    result = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True)
    assert result.returncode == 0, "openssl %s failed:\n%s" % (args[0], result.stderr)


@dataclass(frozen=True)
class ServerCertificate:
    cert_file: Path
    key_file: Path


class ThrowawayCa:
    """A CA made in ``directory`` that signs server certificates for any host name."""

    def __init__(self, directory, name="Raycrafter test CA"):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.cert_file = self.directory / "ca.pem"
        self._key_file = self.directory / "ca.key"
        openssl("req", "-x509", *NEW_KEY, "-keyout", self._key_file, "-out", self.cert_file,
                "-days", "2", "-subj", "/CN=" + name,
                "-addext", "basicConstraints = critical, CA:TRUE",
                "-addext", "keyUsage = critical, keyCertSign, cRLSign")

    def issue(self, host_name):
        """A server certificate for ``host_name`` signed by this CA, with its key."""
        def path(suffix):
            return self.directory / (host_name + suffix)
        request, extensions = path(".csr"), path(".ext")
        extensions.write_text(SERVER_EXTENSIONS.format(host_name=host_name))
        certificate = ServerCertificate(path(".pem"), path(".key"))
        openssl("req", "-new", *NEW_KEY, "-keyout", certificate.key_file, "-out", request,
                "-subj", "/CN=" + host_name)
        openssl("x509", "-req", "-in", request, "-CA", self.cert_file, "-CAkey", self._key_file,
                "-CAcreateserial", "-days", "2", "-extfile", extensions,
                "-out", certificate.cert_file)
        return certificate
