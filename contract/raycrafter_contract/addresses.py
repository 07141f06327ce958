"""Where a bearer token may be sent: over HTTPS, or over plain HTTP to loopback only.

A rule, not a tool: the CLI warns, and the node agent refuses to start, for any other
address, so a token never crosses a network unencrypted without someone being told.
"""
import ipaddress
import urllib.parse


def is_loopback(host):
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def token_may_go_to(url, connect_to=None):
    """True when a token may be sent to ``url``: an https:// URL, or an http:// URL whose
    host is loopback (a test's API, or an SSH tunnel on a compute node). Sent to another
    address (``connect_to``, a host name, as through a gateway), plain HTTP needs that to
    be loopback too: the bytes travel there, whatever the URL says."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "https" or (
        parts.scheme == "http" and is_loopback(parts.hostname)
        and (connect_to is None or is_loopback(connect_to)))
