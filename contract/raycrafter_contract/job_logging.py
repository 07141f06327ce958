"""The appliance's services' records about jobs, sent to the log server beside the node
agents', so that ``raycrafter-admin logs --job N`` shows what the API, its relay and
notifier, the worker and the site agents did with job N, not only what its renders said.

A service says which job it is working on with ``about_job(N)`` (a context variable: each
thread, and each waitress request, has its own), or names it in one call with
``extra={"job_id": N}``. Its records then go to its own log file as before, and the ones
about a job, with every warning and error, to the log server too: as GELF, with the
service's credential (``log_credentials.issue_for_service``), through the same queue and
sender as the node agents' (``gelf_shipping``), so a log server that is away costs old
records, never a request's or a command's time.
"""
import contextlib
import contextvars
import logging
import re
import socket
from typing import Iterator, Optional, Tuple

from .gelf_shipping import GelfShippingHandler, tls_context

# Records waiting for a log server that is away: a few minutes of a busy worker.
QUEUE_RECORDS = 10000
_CURRENT_JOB: "contextvars.ContextVar[Optional[int]]" = contextvars.ContextVar(
    "raycrafter_current_job", default=None)
_ADDRESS = re.compile(r"^([A-Za-z0-9._-]+|\[[0-9A-Fa-f:]+\]):([0-9]{1,5})$")


@contextlib.contextmanager
def about_job(job_id: int) -> Iterator[None]:
    """Records logged inside are about job ``job_id``."""
    token = _CURRENT_JOB.set(int(job_id))
    try:
        yield
    finally:
        _CURRENT_JOB.reset(token)


class JobRecords(logging.Filter):
    """Stamps the current job on a record that names none, and passes the records about a
    job and those of a warning or worse: what an operator looks for on the log host. A
    service's routine chatter (connections, polls) stays in its own log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "job_id", None) is None:
            job_id = _CURRENT_JOB.get()
            if job_id is not None:
                record.job_id = job_id
        return getattr(record, "job_id", None) is not None or record.levelno >= logging.WARNING


def log_server_address(text: str) -> Tuple[str, int]:
    """HOST:PORT of a log server, or ValueError saying what is wrong with it."""
    match = _ADDRESS.match(text)
    if match is None or not 0 < int(match.group(2)) < 65536:
        raise ValueError("a log server is HOST:PORT, not %r" % text)
    return match.group(1).strip("[]"), int(match.group(2))


def ship_job_records(address: str, credential: str, program: str,
                     ca_file: str = "") -> GelfShippingHandler:
    """Send this process's records about jobs to the log server at ``address`` (TLS
    verified against ``ca_file`` when one is given, as under a salt master; plain TCP on a
    host's loopback otherwise), each with ``_program``; returns the handler, already on
    the root logger."""
    host, port = log_server_address(address)
    handler = GelfShippingHandler(
        host, port, node=socket.gethostname(), credential=credential,
        queue_size=QUEUE_RECORDS, ssl_context=tls_context(ca_file) if ca_file else None,
        fields={"_program": program}, program=program)
    handler.setLevel(logging.INFO)
    handler.addFilter(JobRecords())
    logging.getLogger().addHandler(handler)
    return handler
