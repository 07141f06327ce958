"""Posting a signed webhook to the address its URL was checked for.

The connection goes to the address ``webhook_targets.resolve`` answered, never to a second
lookup of the name; the request still names the host (``Host``, and TLS's server name and
certificate check), so the receiver sees the URL it was given. Redirects are not followed:
a redirect could lead anywhere the check refused.
"""
import http.client
import socket
import ssl

from . import webhook_targets

# What of the receiver's answer is kept for the delivery's last error.
ANSWER_EXCERPT = 200


class NotDelivered(Exception):
    """The receiver was not reached or did not answer 2xx; ``str()`` says which."""


def post(url, body, headers, allowed_networks, timeout):
    """POST ``body`` (JSON bytes) with ``headers`` to ``url``; raise Refused when the URL
    may not be reached, NotDelivered when the receiver did not take it."""
    scheme, host, port, path = webhook_targets.parse(url)
    try:
        address = webhook_targets.resolve(host, port, allowed_networks)
    except (socket.gaierror, UnicodeError) as error:
        raise NotDelivered(f"{host} does not resolve ({error})") from None
    connection = _pinned_connection(scheme, host, port, address, timeout)
    try:
        connection.request("POST", path, body=body, headers={
            "Content-Type": "application/json", "User-Agent": "raycrafter-notifier",
            **headers})
        answer = connection.getresponse()
        excerpt = answer.read(ANSWER_EXCERPT).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as error:
        raise NotDelivered(f"{host} ({address}): {type(error).__name__}: {error}") from None
    finally:
        connection.close()
    if not 200 <= answer.status < 300:
        raise NotDelivered(f"{host} ({address}) answered {answer.status}: {excerpt}")
    return answer.status


def _pinned_connection(scheme, host, port, address, timeout):
    if scheme == "https":
        connection = http.client.HTTPSConnection(host, port, timeout=timeout,
                                                 context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    # http.client opens its socket through this one method; TLS then wraps the socket with
    # the host's name as the server name.
    connection._create_connection = lambda *_: _connected(address, port, timeout)
    return connection


def _connected(address, port, timeout):
    """A socket connected to ``address`` itself: no lookup of any kind on the way
    (socket.create_connection would ask the resolver again, even for an address)."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((str(address), port))
    except OSError:
        sock.close()
        raise
    return sock
