"""Where a webhook may go: an http(s) URL whose host resolves, once, to an address that is
public or in a network the operator allows (``notify_allowed_networks``).

A webhook URL is chosen by a user and fetched by the appliance from inside its own network:
without this rule it would reach the database, the broker, a cloud's metadata service or
anything else on loopback and the private networks. The name is resolved once, the address
checked, and the connection made to that very address (``webhooks.py``): a resolver that
answers differently the second time (DNS rebinding) is never asked a second time.
"""
import ipaddress
import socket
import urllib.parse

SCHEMES = {"http": 80, "https": 443}
MAX_URL_CHARS = 2000


class Refused(Exception):
    """The URL may not be delivered to; ``str()`` says why."""


def parse(url):
    """(scheme, host, port, path with query) of a webhook URL, or Refused saying what is
    wrong with it."""
    if len(url) > MAX_URL_CHARS or not url.isprintable() or " " in url:
        raise Refused(f"must be a URL of at most {MAX_URL_CHARS} printable characters "
                      f"without spaces")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise Refused(f"is not a URL ({error})") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise Refused("must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.fragment:
        raise Refused("may carry no user name, password or fragment")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or SCHEMES[parts.scheme], path


def check_url(url, allowed_networks):
    """Refused unless ``url`` is well formed and, where its host is an address, one that
    may be reached: what is known when the job is submitted (names resolve later)."""
    _, host, _, _ = parse(url)
    address = _literal(host)
    if address is not None:
        check_address(address, allowed_networks)


def resolve(host, port, allowed_networks):
    """The one address of ``host`` to connect to: its first, resolved once, if every address
    the name has may be reached; Refused if any may not (a name that answers with a private
    address beside a public one is not to be trusted with either). A name that does not
    resolve raises socket.gaierror: that may pass."""
    literal = _literal(host)
    if literal is not None:
        return check_address(literal, allowed_networks)
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [ipaddress.ip_address(answer[4][0].split("%")[0]) for answer in answers]
    for address in addresses:
        check_address(address, allowed_networks)
    return addresses[0]


def check_address(address, allowed_networks):
    """``address`` if it is public or allowed; Refused naming what kind of address it is."""
    address = getattr(address, "ipv4_mapped", None) or address
    if any(address in network for network in allowed_networks):
        return address
    if address.is_global and not address.is_multicast:
        return address
    raise Refused(f"{address} is {_kind(address)}, which webhooks may not reach "
                  f"(notify_allowed_networks allows a network)")


_KINDS = (("is_loopback", "a loopback address"), ("is_link_local", "a link-local address"),
          ("is_multicast", "a multicast address"), ("is_unspecified", "an unspecified address"),
          ("is_private", "a private address"), ("is_reserved", "a reserved address"))


def _kind(address):
    for test, kind in _KINDS:
        if getattr(address, test):
            return kind
    return "not a public address"


def _literal(host):
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return None
