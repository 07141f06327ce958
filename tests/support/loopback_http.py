"""Small HTTP servers of a test's own on loopback, answering in a thread."""
import contextlib
import threading


@contextlib.contextmanager
def serving(server):
    """``server`` (an ``http.server.HTTPServer`` bound to loopback) answering in a thread
    of its own while the block runs; shut down and closed afterwards."""
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
