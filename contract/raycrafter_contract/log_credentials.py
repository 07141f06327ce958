"""The credential a batch job's node agents send with each log record, so the log server
knows which job a record is about without asking anyone.

The API issues one with every submission attempt (beside the attempt's agent token): the
job, the attempt and an expiry, signed with HMAC-SHA256 under a key only the API and the
log server hold. The log server checks the signature and the expiry and takes the job from
the credential, never from the record, so a sender on the compute nodes, which all the
site's users share, can write records only for a job whose credential it holds, and the
log server keeps no table of jobs.

A credential reads ``rclog1.JOB.ATTEMPT.EXPIRES.SIGNATURE``: EXPIRES in seconds since the
epoch, SIGNATURE the URL-safe base64 (no padding) of the HMAC of everything before it.

A host's own programs (nginx, PostgreSQL, RabbitMQ, Slurm, Salt) send their lines with a
host credential, ``rchost1.HOST.SIGNATURE``, issued once per deployment and host by the
salt master (which holds the key) and kept by that host alone: the log server writes the
host's name from it, so one host cannot write as another, nor as a batch job.

The appliance's own services (the API and its relay and notifier, the worker, a site
agent) send their records about jobs with a service credential,
``rcsvc1.SERVICE.SIGNATURE``: the API signs its own, and hands the worker and each site
agent theirs over the worker API, naming the account that asked. These services decide
every job's fate already, so the log server keeps the job a service's record names; it
writes the service's name from the credential, so a record says which service wrote it.

The standard library only, down to Python 3.8: the node agent runs on old cluster Pythons.
"""
import base64
import hashlib
import hmac
import re
from typing import NamedTuple, Union

VERSION = "rclog1"
# The GELF field a record carries its credential in; the log server takes it out.
RECORD_FIELD = "_log_credential"
# A generous bound on a credential's length, so a reader can refuse garbage unread.
MAX_CHARS = 128
# The shortest key the API signs with and the log server checks with (Salt generates 256
# bits, 43 characters).
MIN_KEY_CHARS = 32
HOST_VERSION = "rchost1"
_HOST_SHAPE = re.compile(r"^%s\.([A-Za-z0-9][A-Za-z0-9._-]{0,62})\.([A-Za-z0-9_-]{43})$"
                         % HOST_VERSION)
SERVICE_VERSION = "rcsvc1"
_SERVICE_SHAPE = re.compile(r"^%s\.([A-Za-z0-9][A-Za-z0-9._:-]{0,62})\.([A-Za-z0-9_-]{43})$"
                            % SERVICE_VERSION)
_SHAPE = re.compile(r"^%s\.([1-9][0-9]{0,17})\.([1-9][0-9]{0,8})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$"
                    % VERSION)


class LogCredential(NamedTuple):
    job_id: int
    attempt: int
    expires_at: int  # seconds since the epoch


class HostCredential(NamedTuple):
    host: str


class ServiceCredential(NamedTuple):
    service: str


class CredentialRefused(ValueError):
    """Not a credential the key signed, or one past its expiry; ``str()`` says which."""


def issue(key: bytes, job_id: int, attempt: int, expires_at: int) -> str:
    """The credential of submission ``attempt`` of job ``job_id``, valid until
    ``expires_at`` (seconds since the epoch)."""
    claims = "%s.%d.%d.%d" % (VERSION, int(job_id), int(attempt), int(expires_at))
    return "%s.%s" % (claims, _signature(key, claims))


def verify(key: bytes, text: str, now: float) -> LogCredential:
    """The job, attempt and expiry ``text`` vouches for at time ``now``, or
    CredentialRefused."""
    match = _SHAPE.match(text) if isinstance(text, str) and len(text) <= MAX_CHARS else None
    if match is None:
        raise CredentialRefused("not a log credential")
    claims = text.rsplit(".", 1)[0]
    if not hmac.compare_digest(_signature(key, claims), match.group(4)):
        raise CredentialRefused("a log credential this server's key did not sign")
    credential = LogCredential(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    if credential.expires_at <= now:
        raise CredentialRefused("an expired log credential (job %d, attempt %d)"
                                % (credential.job_id, credential.attempt))
    return credential


def issue_for_host(key: bytes, host: str) -> str:
    """The credential of ``host``'s programs (no expiry: it goes with the key)."""
    claims = "%s.%s" % (HOST_VERSION, host)
    if _HOST_SHAPE.match("%s.%s" % (claims, "A" * 43)) is None:
        raise ValueError("%r is no host name" % host)
    return "%s.%s" % (claims, _signature(key, claims))


def issue_for_service(key: bytes, service: str) -> str:
    """The credential of one of the appliance's services (no expiry: it goes with the key)."""
    claims = "%s.%s" % (SERVICE_VERSION, service)
    if _SERVICE_SHAPE.match("%s.%s" % (claims, "A" * 43)) is None:
        raise ValueError("%r is no service name" % service)
    return "%s.%s" % (claims, _signature(key, claims))


AnyCredential = Union[LogCredential, HostCredential, ServiceCredential]


def verify_any(key: bytes, text: str, now: float) -> AnyCredential:
    """A batch job's credential (``verify``), a host's or a service's; else
    CredentialRefused."""
    if not isinstance(text, str) or len(text) > MAX_CHARS:
        return verify(key, text, now)
    for shape, kind, what in ((_HOST_SHAPE, HostCredential, "host"),
                              (_SERVICE_SHAPE, ServiceCredential, "service")):
        match = shape.match(text)
        if match is not None:
            if not hmac.compare_digest(_signature(key, text.rsplit(".", 1)[0]), match.group(2)):
                raise CredentialRefused("a %s credential this server's key did not sign" % what)
            return kind(match.group(1))
    return verify(key, text, now)


def _signature(key: bytes, claims: str) -> str:
    digest = hmac.new(key, claims.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
