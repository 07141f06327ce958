"""The listeners and their connections, on one asyncio loop.

Each connection is read as it comes, split into records (framing.py), and each record is
taken or refused (admission.py) and written (records.py). Nothing a sender does can make
the server hold more than one record's bound per connection, nor more connections than
its limits; a sender over its credential's budget is simply read more slowly. What was
refused is counted and reported once per ``report_seconds``, with an example of each kind,
so a flood of bad records or handshakes cannot flood the server's own log.
"""
import asyncio
import collections
import logging
import ssl
import time
from typing import Dict, Optional

from raycrafter_contract.log_credentials import CredentialRefused
from raycrafter_contract.log_search import MAX_REQUEST_BYTES

from . import records
from .admission import Admission, credential_text, sender
from .config import Config, Listener
from .framing import Frames
from .search_service import SearchService

log = logging.getLogger(__name__)

READ_BYTES = 64 * 1024
TLS_HANDSHAKE_SECONDS = 10.0
# How long a connection waits after each record it had refused: garbage costs its sender
# time, as a flood over its budget does.
REFUSED_DELAY_SECONDS = 0.05
REFUSALS = {
    "tls": "TLS handshakes failed",
    "credential": "records without a valid log credential",
    "malformed": "records that are no JSON object",
    "oversize": "records over max_record_bytes",
    "unfinished": "connections ended inside a record",
    "connections": "connections over the limits",
}


class Counts:
    """What happened since the last report."""

    def __init__(self) -> None:
        self.written = 0
        self.credentials = set()
        self.other_job = 0
        self.refused = collections.Counter()
        self.examples: Dict[str, str] = {}
        self.waited = collections.Counter()

    def refuse(self, kind: str, source: str, detail: str = "", count: int = 1) -> None:
        self.refused[kind] += count
        self.examples.setdefault(kind, f"{source}: {detail}" if detail else source)

    def lines(self, seconds: float):
        if self.written or self.other_job:
            yield (f"in {seconds:.0f} s: {self.written} record(s) written for "
                   f"{len(self.credentials)} sender(s)"
                   + (f", {self.other_job} of them naming another job than their "
                      f"credential's" if self.other_job else ""))
        for kind, count in sorted(self.refused.items()):
            yield f"in {seconds:.0f} s, {REFUSALS[kind]}: {count} (e.g. {self.examples[kind]})"
        for who, waited in sorted(self.waited.items()):
            yield (f"in {seconds:.0f} s: the senders of {who} were over their budget and "
                   f"read {waited:.1f} s more slowly")


class LogServer:
    def __init__(self, config: Config, clock=time.time, monotonic=time.monotonic) -> None:
        self.config = config
        self._clock, self._monotonic = clock, monotonic
        self._admission = Admission(config)
        self._records = records.RecordsFile(config.records_file, config.rotate_bytes,
                                            config.keep_files, config.keep_days, clock)
        self._counts = Counts()
        self._connections = collections.Counter()  # by source address
        self._tasks = set()
        self._searches = SearchService(config.records_file, config.search_token,
                                       config.max_searches)

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until ``stop`` is set, then close every connection and the file."""
        contexts = {listener: tls_context(listener) if listener.tls else None
                    for listener in self.config.listeners}
        self._records.open()
        servers = [await asyncio.start_server(
            lambda reader, writer, context=context: self._accept(reader, writer, context),
            listener.address, listener.port, limit=READ_BYTES)
            for listener, context in contexts.items()]
        for listener in self.config.search_listeners:
            context = tls_context(listener) if listener.tls else None
            servers.append(await asyncio.start_server(
                lambda reader, writer, context=context: self._accept_search(reader, writer,
                                                                            context),
                listener.address, listener.port, limit=MAX_REQUEST_BYTES))
        log.info("listening on %s; records to %s%s", _addresses(self.config.listeners),
                 self.config.records_file,
                 f"; searches on {_addresses(self.config.search_listeners)}"
                 if self.config.search_listeners else "")
        reporter = asyncio.create_task(self._report_every(stop))
        await stop.wait()
        for server in servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, reporter, return_exceptions=True)
        self._searches.close()
        self._records.close()
        log.info("stopped")

    async def _accept(self, reader, writer, context: Optional[ssl.SSLContext]) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        source = (writer.get_extra_info("peername") or ("?",))[0]
        try:
            if not self._open_connection(source):
                return
            try:
                if context is not None:
                    await self._handshake(writer, context, source)
                await self._serve(reader, source)
            finally:
                self._connections[source] -= 1
                if not self._connections[source]:
                    del self._connections[source]
        except (ConnectionError, ssl.SSLError, asyncio.TimeoutError, OSError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _accept_search(self, reader, writer, context: Optional[ssl.SSLContext]) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            await self._searches.serve(reader, writer, context)
        except (ConnectionError, ssl.SSLError, asyncio.TimeoutError, OSError) as error:
            log.warning("search from %s ended: %s", (writer.get_extra_info("peername")
                                                     or ("?",))[0], error)
        finally:
            self._tasks.discard(task)
            writer.close()

    def _open_connection(self, source: str) -> bool:
        config = self.config
        if (sum(self._connections.values()) >= config.max_connections
                or self._connections[source] >= config.max_connections_per_address):
            self._counts.refuse("connections", source,
                                f"{self._connections[source]} open from there")
            return False
        self._connections[source] += 1
        return True

    async def _handshake(self, writer, context: ssl.SSLContext, source: str) -> None:
        try:
            await writer.start_tls(context, ssl_handshake_timeout=TLS_HANDSHAKE_SECONDS)
        except (ssl.SSLError, ConnectionError, asyncio.TimeoutError, OSError) as error:
            self._counts.refuse("tls", source, str(error) or type(error).__name__)
            raise

    async def _serve(self, reader, source: str) -> None:
        frames = Frames(self.config.max_record_bytes)
        try:
            while True:
                data = await asyncio.wait_for(reader.read(READ_BYTES), self.config.idle_seconds)
                if not data:
                    return
                for frame in frames.feed(data):
                    delay = self._take(frame, source)
                    if delay:
                        self._records.flush()
                        await asyncio.sleep(delay)
                self._records.flush()
        finally:
            if frames.oversize:
                self._counts.refuse("oversize", source, f"over {frames.max_record_bytes} "
                                                        f"bytes", frames.oversize)
            if frames.unfinished:
                self._counts.refuse("unfinished", source)

    def _take(self, frame: bytes, source: str) -> float:
        """Write the record ``frame`` holds, or count its refusal; the seconds its
        connection must wait before it is read on."""
        try:
            record = records.parse(frame)
            credential = self._admission.check(credential_text(record), self._clock())
        except records.Malformed as error:
            self._counts.refuse("malformed", source, str(error))
            return REFUSED_DELAY_SECONDS
        except CredentialRefused as error:
            self._counts.refuse("credential", source, str(error))
            return REFUSED_DELAY_SECONDS
        if records.claims_another_job(record, credential):
            self._counts.other_job += 1
        self._records.write(records.line(record, credential, source))
        self._counts.written += 1
        self._counts.credentials.add(sender(credential))
        wait = self._admission.charge(credential, len(frame), self._monotonic())
        if wait:
            self._counts.waited[sender(credential)] += wait
        return wait

    async def _report_every(self, stop: asyncio.Event) -> None:
        while True:
            started = self._monotonic()
            try:
                await asyncio.wait_for(stop.wait(), self.config.report_seconds)
            except asyncio.TimeoutError:
                pass
            counts, self._counts = self._counts, Counts()
            for line in counts.lines(self._monotonic() - started):
                log.info("%s", line)
            # Rotated files age out even while nothing is written.
            self._records.prune()
            if stop.is_set():
                return


def _addresses(listeners) -> str:
    return ", ".join(f"{l.address}:{l.port} ({'TLS' if l.tls else 'TCP'})" for l in listeners)


def tls_context(listener: Listener) -> ssl.SSLContext:
    """A TLS listener's server context: its certificate and key. No client certificate is
    asked for: senders prove who they are with their log credentials."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(listener.certificate_file, listener.key_file)
    return context
