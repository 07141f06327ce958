"""The log credential: what the API signs for a batch job and the log server checks, with
no table of jobs between them."""
import pytest

from raycrafter_contract import log_credentials
from raycrafter_contract.log_credentials import CredentialRefused, LogCredential

KEY = b"k" * 43
NOW = 1_800_000_000


def test_a_credential_vouches_for_its_job_and_attempt_until_it_expires():
    text = log_credentials.issue(KEY, 12, 3, NOW + 60)
    assert text.startswith("rclog1.12.3.%d." % (NOW + 60))
    assert len(text) <= log_credentials.MAX_CHARS
    assert log_credentials.verify(KEY, text, NOW) == LogCredential(12, 3, NOW + 60)
    with pytest.raises(CredentialRefused, match=r"expired log credential \(job 12, attempt 3\)"):
        log_credentials.verify(KEY, text, NOW + 60)


def changed(text, position, value):
    parts = text.split(".")
    parts[position] = value
    return ".".join(parts)


@pytest.mark.parametrize("forge, reason", [
    (lambda t: changed(t, 1, "13"), "did not sign"),             # another job
    (lambda t: changed(t, 2, "4"), "did not sign"),              # another attempt
    (lambda t: changed(t, 3, str(NOW + 10**6)), "did not sign"),  # a later expiry
    (lambda t: log_credentials.issue(b"o" * 43, 12, 3, NOW + 60), "did not sign"),
    (lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), "did not sign"),
    (lambda t: "rclog2" + t[6:], "not a log credential"),
    (lambda t: changed(t, 1, "012"), "not a log credential"),
    (lambda t: t + "." + "x" * 200, "not a log credential"),
    (lambda t: "", "not a log credential"),
    (lambda t: 12, "not a log credential"),
])
def test_anything_else_is_refused(forge, reason):
    text = log_credentials.issue(KEY, 12, 3, NOW + 60)
    with pytest.raises(CredentialRefused, match=reason):
        log_credentials.verify(KEY, forge(text), NOW)


def test_a_host_credential_names_its_host_and_only_its_key_verifies_it():
    key = b"k" * 43
    credential = log_credentials.issue_for_host(key, "web-1.example.org")
    assert credential.startswith("rchost1.web-1.example.org.")
    assert log_credentials.verify_any(key, credential, now=0) == log_credentials.HostCredential(
        "web-1.example.org")
    with pytest.raises(log_credentials.CredentialRefused, match="did not sign"):
        log_credentials.verify_any(b"o" * 43, credential, now=0)
    # Another host's name under this signature is refused.
    forged = credential.replace("web-1.example.org", "db-1.example.org")
    with pytest.raises(log_credentials.CredentialRefused, match="did not sign"):
        log_credentials.verify_any(key, forged, now=0)
    # A host credential is no batch job's.
    with pytest.raises(log_credentials.CredentialRefused, match="not a log credential"):
        log_credentials.verify(key, credential, now=0)
    job = log_credentials.issue(key, 12, 1, 100)
    assert log_credentials.verify_any(key, job, now=50) == log_credentials.LogCredential(12, 1, 100)
    with pytest.raises(ValueError, match="no host name"):
        log_credentials.issue_for_host(key, "web 1; rm")


def test_a_service_credential_names_its_service_and_is_no_hosts_nor_a_jobs():
    key = b"k" * 43
    credential = log_credentials.issue_for_service(key, "raycrafter-siteagent:north")
    assert credential.startswith("rcsvc1.raycrafter-siteagent:north.")
    assert log_credentials.verify_any(key, credential, now=0) == \
        log_credentials.ServiceCredential("raycrafter-siteagent:north")
    with pytest.raises(log_credentials.CredentialRefused,
                       match="service credential .* did not sign"):
        log_credentials.verify_any(b"o" * 43, credential, now=0)
    # Another service's name under this signature is refused, and so is the signature
    # under the host credential's version: the version is signed too.
    for forged in (credential.replace("siteagent:north", "siteagent:south"),
                   credential.replace("rcsvc1.", "rchost1.").replace(":north", "-north")):
        with pytest.raises(log_credentials.CredentialRefused, match="did not sign"):
            log_credentials.verify_any(key, forged, now=0)
    with pytest.raises(log_credentials.CredentialRefused, match="not a log credential"):
        log_credentials.verify(key, credential, now=0)
    with pytest.raises(ValueError, match="no service name"):
        log_credentials.issue_for_service(key, "worker; rm")
