"""Where a service's Prometheus metrics are kept and served when it runs several processes.

The API runs several waitress processes and the worker several consumers on one host.
Each process counts in files of its own in the service's multiprocess directory
(prometheus_client's multiprocess mode, named by ``PROMETHEUS_MULTIPROC_DIR``), and each
serves the sum of the whole directory on the service's one metrics address, bound with
``SO_REUSEPORT``: whichever process the kernel hands a scrape answers for all of them.

The directory is emptied when the first process of the service starts, and only then:
counts of processes that ended stay in it, so the sums never go down while the service
runs (a restarted process does not look like a counter reset). Every live process holds a
shared lock on ``alive.lock`` in it; a starting process that can take that lock exclusively
knows no other is alive. Starting processes queue on ``start.lock``, so two never both
find themselves alone.

The standard library only: the components hand in prometheus_client's WSGI application.
"""
import fcntl
import glob
import os
import socket
import ssl
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# The shared lock of this process on its service's directory, held until it exits.
_membership = []


def join_multiprocess_directory(environ=os.environ):
    """Take part in the multiprocess directory ``PROMETHEUS_MULTIPROC_DIR`` names (nothing
    without it): create it, empty it if no other process of the service is alive. Call
    before the process creates its metrics, which open their files at once."""
    directory = environ.get(DIRECTORY_VARIABLE)
    if not directory or _membership:
        return directory
    os.makedirs(directory, mode=0o700, exist_ok=True)
    starting = os.open(os.path.join(directory, "start.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(starting, fcntl.LOCK_EX)
        alive = os.open(os.path.join(directory, "alive.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(alive, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            for stale in glob.glob(os.path.join(directory, "*.db")):
                os.unlink(stale)
        # From exclusive to shared: only starters ask for it exclusively, and they wait
        # on start.lock, which this process holds.
        fcntl.flock(alive, fcntl.LOCK_SH)
        _membership.append(alive)
    finally:
        os.close(starting)
    return directory


class _SharedAddressServer(ThreadingMixIn, WSGIServer):
    """A threaded WSGI server whose address other processes of the same user may bind."""
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


class _QuietHandler(WSGIRequestHandler):
    """No line per scrape in the service's log; a client that stalls is dropped."""
    timeout = 30

    def setup(self):
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()

    def log_message(self, format, *args):
        pass


def is_listen_address(address):
    """Whether ``address`` is HOST:PORT (an empty host: every address of the host)."""
    _, colon, port = address.rpartition(":")
    return bool(colon) and port.isdigit() and 0 < int(port) < 65536


def serve(app, listen, certificate=None, key=None):
    """Serve ``app`` on ``listen`` (``HOST:PORT``; an empty host is every address of the
    host) in a daemon thread, over TLS with ``certificate`` and ``key`` if given. Returns
    the server (``server_address``, ``shutdown()``)."""
    host, _, port = listen.rpartition(":")
    family, _, _, _, address = socket.getaddrinfo(host.strip("[]") or None, int(port),
                                                  type=socket.SOCK_STREAM,
                                                  flags=socket.AI_PASSIVE)[0]

    class Server(_SharedAddressServer):
        address_family = family

    server = make_server(address[0], address[1], app, Server, handler_class=_QuietHandler)
    if certificate:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(certificate, key)
        # The handshake in the request's thread, so a slow client holds up no other.
        server.socket = context.wrap_socket(server.socket, server_side=True,
                                            do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
