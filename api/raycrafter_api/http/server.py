"""``raycrafter-api``: the API under waitress, on a listening address several processes share.

One waitress process runs its requests in threads that share one interpreter lock, so it
keeps about one core busy. Supervisor starts ``raycrafter:api:processes`` of these, each
binding the same address with ``SO_REUSEPORT``, and the kernel hands each new connection
to one of them: the API uses every core with nothing in front of it but what was there
(nginx proxies to the one address). Nothing in the API keeps state between requests
outside the database, so any process may answer any request (docs/performance.md).

The arguments are waitress-serve's (``--listen``, ``--threads``, ``--trusted-proxy``, ...);
the application is always ``raycrafter_api.app:create_app_from_env``.
"""
import socket
import sys

import waitress
from waitress.adjustments import Adjustments

from ..app import create_app_from_env

DEFAULT_LISTEN = "127.0.0.1:8080"


def shared_sockets(listen):
    """Bound sockets for waitress's ``--listen`` value (``host:port`` words), each one that
    other processes of the same user may bind as well."""
    sockets = []
    for word in listen.split():
        host, _, port = word.rpartition(":")
        for family, kind, proto, _, address in socket.getaddrinfo(
                host.strip("[]") or None, int(port), type=socket.SOCK_STREAM,
                flags=socket.AI_PASSIVE):
            shared = socket.socket(family, kind, proto)
            shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                shared.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            shared.bind(address)
            sockets.append(shared)
    return sockets


def main(argv=None):
    settings, arguments = Adjustments.parse_args(sys.argv[1:] if argv is None else argv)
    if settings.pop("help") or settings.pop("call") or arguments:
        print("usage: raycrafter-api [waitress-serve options, e.g. --listen=HOST:PORT "
              "--threads=N]", file=sys.stderr)
        return 2
    sockets = shared_sockets(settings.pop("listen", DEFAULT_LISTEN))
    waitress.serve(create_app_from_env(), sockets=sockets, **settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
