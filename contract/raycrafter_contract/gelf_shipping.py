"""Ship log records to the log server as GELF over TCP, optionally TLS, without ever
holding up the program that logs them: a render in the node agent, a request in the API,
a command in the worker.

graypy's own TCP handler drops records while the server is unreachable, and its TLS
handler uses ``ssl.wrap_socket`` (gone in Python 3.12) and loses the last records of a
TLS 1.3 connection. So graypy only turns records into GELF here; queueing and the socket
are ours: ``emit`` appends to a bounded in-memory queue and returns at once, and one
background thread drains the queue, reconnecting with backoff while the server is away.
When the queue is full the oldest record is dropped and counted, so a long outage costs
old log lines, never memory or the caller's time.

Here rather than in the node agent because the API and the worker ship their records
about jobs the same way. The contract's only module that needs more than the standard
library: graypy, which the components that import it require themselves.

GELF over TCP has no acknowledgements. A record counts as sent once the kernel took it,
and before each write the sender checks whether the server has closed the connection,
so a restarted server does not swallow records into a dead socket.
"""

import collections
import logging
import socket
import ssl
import sys
import threading
import time
from typing import Deque, Dict, List, Optional

from graypy.handler import BaseGELFHandler
from raycrafter_contract import log_credentials
from raycrafter_contract.utilities.backoff import Backoff

# Enough to keep a busy renderer's lines flowing in few system calls, small enough that a
# write blocked by a stalled server does not hold much.
MAX_BATCH_BYTES = 64 * 1024


def tls_context(ca_file: Optional[str]) -> ssl.SSLContext:
    """Certificate and host-name verification on; the system store unless a CA file is given."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class GelfShippingHandler(BaseGELFHandler):
    """A logging handler that queues null-terminated GELF JSON frames for a sender thread.

    Each record carries ``_seq``, counting from 1 in the order records were queued, so gaps
    on the log server show exactly which records were dropped, and the sender's log
    credential (a batch job's, or a service's), without which the log server takes no
    record. ``fields`` are added to every record (the API's ``_program``, say); ``program``
    names the sender in the one warning it writes on stderr.
    """

    def __init__(self, host: str, port: int, node: str, credential: str, queue_size: int,
                 ssl_context: Optional[ssl.SSLContext] = None,
                 server_name: Optional[str] = None, connect_timeout: float = 5.0,
                 send_timeout: float = 10.0, max_backoff: float = 10.0,
                 fields: Optional[Dict[str, str]] = None,
                 program: str = "raycrafter-nodeagent") -> None:
        BaseGELFHandler.__init__(self, compress=False, localname=node, level_names=True)
        self._credential = credential
        self._fields = dict(fields or {})
        self._program = program
        self._address = (host, port)
        self._ssl_context = ssl_context
        self._server_name = server_name or host
        self._connect_timeout = connect_timeout
        self._send_timeout = send_timeout
        self._backoff = Backoff(first=0.2, cap=max_backoff)
        self._queue: Deque[bytes] = collections.deque()
        self._queue_size = queue_size
        self._wakeup = threading.Condition()
        self._closing = False
        self._give_up = False
        self._warned = False
        self._socket: Optional[socket.socket] = None
        self.queued = 0
        self.sent = 0
        self.dropped = 0
        self._sender = threading.Thread(target=self._run, name="gelf-sender", daemon=True)
        self._sender.start()

    def _make_gelf_dict(self, record: logging.LogRecord) -> Dict[str, object]:
        gelf = super()._make_gelf_dict(record)
        gelf.update(self._fields)
        gelf["_seq"] = self.queued + 1
        gelf[log_credentials.RECORD_FIELD] = self._credential
        return gelf

    def emit(self, record: logging.LogRecord) -> None:
        """Called under the handler's lock, so sequence numbers follow queue order."""
        try:
            frame = self.makePickle(record) + b"\0"
        except Exception:  # a record that cannot be formatted must not break the caller
            self.handleError(record)
            return
        with self._wakeup:
            if len(self._queue) >= self._queue_size:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(frame)
            self.queued += 1
            self._wakeup.notify()

    def close(self, flush_seconds: float = 0.0) -> None:
        """Wait up to ``flush_seconds`` for the queue to reach the server, then stop."""
        with self._wakeup:
            self._closing = True
            self._backoff.reset()
            self._wakeup.notify()
        self._sender.join(flush_seconds)
        with self._wakeup:
            self._give_up = True
            self._wakeup.notify()
        self._sender.join(self._send_timeout + 1)
        super().close()

    @property
    def unsent(self) -> int:
        with self._wakeup:
            return len(self._queue)

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                break
            if self._socket is None and not self._connect():
                self._pause(self._backoff.next_delay())
                continue
            if self._peer_closed() or not self._send(b"".join(batch)):
                self._disconnect()
                continue
            self._backoff.reset()
            self._forget(batch)
        self._disconnect()

    def _next_batch(self) -> Optional[List[bytes]]:
        """The oldest queued frames, left in the queue until they are written."""
        with self._wakeup:
            while not self._queue and not self._closing and not self._give_up:
                self._wakeup.wait()
            if self._give_up or (self._closing and not self._queue):
                return None
            batch, size = [], 0
            for frame in self._queue:
                if batch and size + len(frame) > MAX_BATCH_BYTES:
                    break
                batch.append(frame)
                size += len(frame)
            return batch

    def _forget(self, batch: List[bytes]) -> None:
        """Drop the written frames from the queue, minding that overflow may have removed
        some of them meanwhile."""
        with self._wakeup:
            for frame in batch:
                if self._queue and self._queue[0] is frame:
                    self._queue.popleft()
                    self.sent += 1

    def _pause(self, seconds: float) -> None:
        """Sleep between connection attempts; cut short when close() wants a last try."""
        deadline = time.monotonic() + seconds
        with self._wakeup:
            was_closing = self._closing
            while not self._give_up and self._closing == was_closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wakeup.wait(remaining)

    def _connect(self) -> bool:
        try:
            raw = socket.create_connection(self._address, timeout=self._connect_timeout)
        except OSError:
            return False
        try:
            if self._ssl_context is not None:
                self._socket = self._ssl_context.wrap_socket(raw, server_hostname=self._server_name)
            else:
                self._socket = raw
            self._socket.settimeout(self._send_timeout)
            return True
        except ssl.SSLCertVerificationError as error:
            raw.close()
            self._warn_once("the log server %s:%d is refused: %s; log records are kept and "
                            "retried, the work goes on" % (self._address + (error.verify_message,)))
            return False
        except (OSError, ssl.SSLError):
            raw.close()
            return False

    def _warn_once(self, message: str) -> None:
        """On stderr (the batch job's error file, a service's log), never through logging:
        the records would only queue up behind the very connection that fails."""
        if not self._warned:
            self._warned = True
            sys.stderr.write("%s: warning: %s\n" % (self._program, message))

    def _peer_closed(self) -> bool:
        """True when the server has gone: it never sends, so anything readable is EOF or an error."""
        assert self._socket is not None
        self._socket.settimeout(0)
        try:
            return self._socket.recv(1) == b""
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False
        except OSError:
            return True
        finally:
            self._socket.settimeout(self._send_timeout)

    def _send(self, data: bytes) -> bool:
        assert self._socket is not None
        try:
            self._socket.sendall(data)
            return True
        except OSError:
            return False

    def _disconnect(self) -> None:
        if self._socket is not None:
            try:
                self._socket.close()
            except OSError:
                pass
            self._socket = None
