"""``raycrafter-gateway``: the way out for compute nodes that have none, run on the login
node (docs/sites.md, "Compute nodes without a way out").

It relays TCP connections, byte for byte, from an address the compute nodes reach on the
login node to a fixed upstream each: the API's HTTPS port and the log server's. TLS stays
end to end: a node agent connects to the gateway but verifies the API's certificate by the
API's name (``--api-connect-to``), as curl's ``--connect-to`` does, and sends its token
only inside that TLS session; the log records likewise (``--log-server-name``). The
gateway sees ciphertext only and can reach nothing but its upstreams.

The worker (or the site agent) starts it when a cluster profile names a ``gateway_host``
and keeps it running while the cluster has batch jobs: it checks at every poll round and
starts it again if the login node killed it. The gateway ends by itself after
``--idle-seconds`` without a connection. A second one on the same addresses cannot listen
and exits at once, so starting it twice is harmless.

Standard library only, down to Python 3.8, as the rest of the node agent's distribution.
"""

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from typing import List, Optional, Tuple

from .config import ConfigError, host_and_port

log = logging.getLogger("raycrafter_gateway")

Address = Tuple[str, int]
CHUNK = 64 * 1024
CONNECT_TIMEOUT = 15.0
# A status of its own for an address it cannot listen on: most often another gateway
# serving it already.
EXIT_CANNOT_LISTEN = 3


def route(text: str) -> Tuple[Address, Address]:
    """``LISTEN_HOST:PORT=UPSTREAM_HOST:PORT``."""
    listen, sep, upstream = text.partition("=")
    try:
        if not sep:
            raise ConfigError("--route wants LISTEN_HOST:PORT=UPSTREAM_HOST:PORT, not %r" % text)
        return host_and_port(listen, "--route"), host_and_port(upstream, "--route")
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class Gateway:
    """Relays each accepted connection to its route's upstream; counts what is open."""

    def __init__(self, source: Optional[str], max_connections: int) -> None:
        self.source = source
        self.max_connections = max_connections
        self.open = 0
        self.last_activity = time.monotonic()

    async def relay(self, upstream: Address, client_reader: asyncio.StreamReader,
                    client_writer: asyncio.StreamWriter) -> None:
        if self.open >= self.max_connections:
            log.warning("refusing a connection: %d open already", self.open)
            client_writer.close()
            return
        self.open += 1
        self.last_activity = time.monotonic()
        try:
            try:
                up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(
                    upstream[0], upstream[1],
                    local_addr=(self.source, 0) if self.source else None), CONNECT_TIMEOUT)
            except (OSError, asyncio.TimeoutError) as error:
                log.warning("cannot reach %s:%d: %s", upstream[0], upstream[1],
                            error or type(error).__name__)
                return
            try:
                await asyncio.gather(_pipe(client_reader, up_writer),
                                     _pipe(up_reader, client_writer))
            finally:
                up_writer.close()
        finally:
            client_writer.close()
            self.open -= 1
            self.last_activity = time.monotonic()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until the end of one direction, then pass the end on (a half-close), so that
    a client that has sent its request still gets the whole answer."""
    try:
        while True:
            chunk = await reader.read(CHUNK)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()


async def serve(routes: List[Tuple[Address, Address]], source: Optional[str],
                idle_seconds: float, max_connections: int, pid_file: Optional[str]) -> int:
    gateway = Gateway(source, max_connections)
    servers = []
    try:
        for (host, port), upstream in routes:
            servers.append(await asyncio.start_server(
                lambda r, w, upstream=upstream: gateway.relay(upstream, r, w), host, port))
    except OSError as error:
        log.error("cannot listen on %s:%d: %s", host, port,
                  os.strerror(error.errno) if error.errno else error)
        for server in servers:
            server.close()
        return EXIT_CANNOT_LISTEN
    if pid_file:
        _write_pid(pid_file)
    for (host, port), (up_host, up_port) in routes:
        log.info("relaying %s:%d to %s:%d", host, port, up_host, up_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=min(idle_seconds, 10.0))
        except asyncio.TimeoutError:
            pass
        if gateway.open == 0 and time.monotonic() - gateway.last_activity >= idle_seconds:
            log.info("no connection for %d s: stopping", idle_seconds)
            break
    for server in servers:
        server.close()
    if pid_file:
        _remove_pid(pid_file)
    return 0


def _write_pid(path: str) -> None:
    """Written once the gateway listens, through a temporary name, so that a reader finds
    either no file or a whole pid."""
    partial = "%s.%d" % (path, os.getpid())
    with open(partial, "w") as handle:
        handle.write("%d\n" % os.getpid())
    os.replace(partial, path)


def _remove_pid(path: str) -> None:
    try:
        with open(path) as handle:
            if handle.read().strip() == str(os.getpid()):
                os.unlink(path)
    except OSError:
        pass


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="raycrafter-gateway", description=__doc__.split("\n")[0])
    parser.add_argument("--route", type=route, action="append", required=True,
                        metavar="LISTEN_HOST:PORT=UPSTREAM_HOST:PORT",
                        help="relay connections to the first address to the second; repeatable")
    parser.add_argument("--source", default=None,
                        help="the login node's own address to reach the upstreams from "
                        "(default: the kernel's choice)")
    parser.add_argument("--idle-seconds", type=float, default=900.0,
                        help="stop after this long without a connection [%(default)s]")
    parser.add_argument("--max-connections", type=int, default=512,
                        help="connections relayed at once, at most [%(default)s]")
    parser.add_argument("--pid-file", help="where to write the pid once listening")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(serve(args.route, args.source, args.idle_seconds,
                             args.max_connections, args.pid_file))


if __name__ == "__main__":
    sys.exit(main())
