"""Which failed calls to the API are worth trying again, and how long to wait first: one
rule for the CLI, the worker and the node agent.

Transient (try again later; nothing about the request is wrong):
- no answer at all: the connection refused or reset, a timeout, a name that does not
  resolve right now, a TLS handshake cut short;
- an answer that is not JSON: a proxy's page while the API restarts;
- the statuses that say "not now": 408, 425, 429 (too many requests: nginx's limit, or a
  busy API) and every 5xx but 501 and 505, which say the server will never do it.

Anything else is not: a TLS certificate the client's CA does not vouch for, every other
4xx (the request itself is wrong, or, for 409, the state has moved on), and JSON that does
not follow the protocol (the two sides disagree on it). A retry never comes sooner than the
server's ``Retry-After`` (seconds or an HTTP date), which is heeded up to
MAX_RETRY_AFTER_SECONDS so that no header can park a client for good, and up to the
moment a client's work is lost (a node agent's lease) if that comes sooner.
"""
import datetime
import email.utils
import ssl

TRANSIENT_CLIENT_STATUSES = frozenset({408, 425, 429})
# The server errors that promise nothing will change: not implemented, version refused.
PERMANENT_SERVER_STATUSES = frozenset({501, 505})
MAX_RETRY_AFTER_SECONDS = 300.0


def status_is_transient(status):
    """Whether an HTTP error answer with ``status`` is worth trying again."""
    return status in TRANSIENT_CLIENT_STATUSES or (
        500 <= status <= 599 and status not in PERMANENT_SERVER_STATUSES)


def no_answer_is_transient(error):
    """Whether a call that got no answer, failing with ``error``, is worth trying again:
    always, but for a certificate nobody the client trusts vouches for."""
    return not isinstance(error, ssl.SSLCertVerificationError)


def retry_after_seconds(header, now=None):
    """The wait a ``Retry-After`` header asks for, in seconds (0 to
    MAX_RETRY_AFTER_SECONDS), or None if there is none or it cannot be read."""
    if header is None:
        return None
    text = header.strip()
    if text.isdigit() and text.isascii():
        seconds = float(text)
    else:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment is None or moment.tzinfo is None:
            return None
        now = now or datetime.datetime.now(datetime.timezone.utc)
        seconds = (moment - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def delay_before_retry(backoff_delay, retry_after, latest=None):
    """How long to wait before the next try: the client's own backoff, but never less
    than the server asked for (``retry_after``, None when it asked nothing). A caller
    whose work is lost past a moment (a lease that runs out in ``latest`` seconds) heeds
    the server only up to then, since waiting longer could only lose the work; its own
    backoff it always keeps."""
    delay = max(backoff_delay, retry_after or 0.0)
    if latest is not None:
        delay = min(delay, max(backoff_delay, latest))
    return delay
