"""Which hosts a token may be sent to without TLS: the CLI warns, and the node agent
refuses, for any other host reached over plain HTTP."""
import ipaddress


def is_loopback(host):
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False
