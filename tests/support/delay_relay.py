"""A TCP relay on loopback that holds every byte for a fixed time in each direction: a link
with a round-trip time of its own, for the benches that measure what round trips cost.

The kernel's own way, ``tc qdisc ... netem delay``, needs sch_netem; where the kernel has
none (``netem_available`` says why), this relay adds the delay in user space: a thread per
direction reads what arrives and a second one sends each piece once it is
``one_way_seconds`` old. Only loopback is used, on a port of its own.

A bench runs it in a process of its own, so that the relay's threads and what is measured
do not take turns at one interpreter:

    python -m support.delay_relay TARGET_PORT ONE_WAY_SECONDS

prints the port it listens on and relays until its standard input closes.
"""
import collections
import gzip
import socket
import sys
import threading
import time

CHUNK = 256 * 1024


def netem_available():
    """(whether the running kernel can delay packets with sch_netem, why)."""
    try:
        with gzip.open("/proc/config.gz", "rt") as config:
            for line in config:
                if line.startswith("CONFIG_NET_SCH_NETEM="):
                    return True, line.strip()
                if line.startswith("# CONFIG_NET_SCH_NETEM is not set"):
                    return False, "CONFIG_NET_SCH_NETEM is not set in this kernel"
    except OSError as error:
        return False, f"cannot read the kernel's configuration: {error}"
    return False, "the kernel's configuration does not mention sch_netem"


class DelayRelay:
    """Listens on 127.0.0.1:``port`` and relays each connection to ``target``, every byte
    ``one_way_seconds`` late in each direction."""

    def __init__(self, target, one_way_seconds):
        self.target = target
        self.delay = one_way_seconds
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self._closed = True
        self._listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._pump(client, server)
            self._pump(server, client)

    def _pump(self, source, destination):
        held = collections.deque()
        ready = threading.Condition()

        def receive():
            while True:
                try:
                    data = source.recv(CHUNK)
                except OSError:
                    data = b""
                with ready:
                    held.append((time.monotonic() + self.delay, data))
                    ready.notify()
                if not data:
                    return

        def send():
            while True:
                with ready:
                    while not held:
                        ready.wait()
                    due, data = held.popleft()
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                try:
                    if not data:
                        destination.shutdown(socket.SHUT_WR)
                        return
                    destination.sendall(data)
                except OSError:
                    source.close()
                    return

        threading.Thread(target=receive, daemon=True).start()
        threading.Thread(target=send, daemon=True).start()


def main(target_port, one_way_seconds):
    with DelayRelay(("127.0.0.1", int(target_port)), float(one_way_seconds)) as relay:
        print(relay.port, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main(*sys.argv[1:])
