"""The search port: the records an operator asks for from another host (``raycrafter-admin
logs`` on the web host), under the rules of ``raycrafter_contract.log_search``.

A connection sends one request line with the deployment's search token; the records are
read from the files as ``raycrafter-logs`` reads them (search.py), in a thread of the
search's own so a long search never holds up the records being taken, and written back
no faster than the client reads them. A following search ends when its client closes or
the server stops. At most ``max_searches`` run at once; one more is told so.
"""
import asyncio
import concurrent.futures
import json
import logging
import ssl
import threading
from typing import Optional

from raycrafter_contract.log_search import (MAX_REQUEST_BYTES, Query, SearchRefused,
                                            answer_line, read_request)

from .search import follow, kept

log = logging.getLogger(__name__)

REQUEST_SECONDS = 10.0
TLS_HANDSHAKE_SECONDS = 10.0
# Records are sent in batches of about this size while the kept files are read.
BATCH_BYTES = 64 * 1024


class SearchService:
    def __init__(self, records_file: str, token: str, max_searches: int) -> None:
        self.records_file, self._token = records_file, token
        self.max_searches = max_searches
        self._running = 0
        self._threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_searches, thread_name_prefix="search")

    async def serve(self, reader, writer, context: Optional[ssl.SSLContext]) -> None:
        source = (writer.get_extra_info("peername") or ("?",))[0]
        if context is not None:
            await writer.start_tls(context, ssl_handshake_timeout=TLS_HANDSHAKE_SECONDS)
        try:
            line = await asyncio.wait_for(reader.readline(), REQUEST_SECONDS)
            query = read_request(line, self._token)
        except SearchRefused as error:
            log.warning("search from %s refused: %s", source, error)
            writer.write(answer_line(str(error)))
            await writer.drain()
            return
        except ValueError:  # a line longer than MAX_REQUEST_BYTES
            writer.write(answer_line(f"a request over {MAX_REQUEST_BYTES} bytes"))
            await writer.drain()
            return
        if self._running >= self.max_searches:
            writer.write(answer_line(f"{self.max_searches} searches are running: try again"))
            await writer.drain()
            return
        self._running += 1
        try:
            writer.write(answer_line())
            await self._answer(reader, writer, query)
        finally:
            self._running -= 1

    async def _answer(self, reader, writer, query: Query) -> None:
        loop = asyncio.get_running_loop()
        done = threading.Event()

        async def send(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        def produce() -> None:
            batch = []
            size = 0
            for record in kept(self.records_file):
                if done.is_set():
                    return
                if query.matches(record):
                    line = _line(record)
                    batch.append(line)
                    size += len(line)
                    if size >= BATCH_BYTES:
                        asyncio.run_coroutine_threadsafe(send(b"".join(batch)), loop).result()
                        batch, size = [], 0
            asyncio.run_coroutine_threadsafe(send(b"".join(batch)), loop).result()
            if query.follow:
                for record in follow(self.records_file, done.is_set):
                    if query.matches(record):
                        asyncio.run_coroutine_threadsafe(send(_line(record)), loop).result()

        producing = loop.run_in_executor(self._threads, produce)
        # The client sends nothing more: its end of the stream (or a reset) ends a search
        # it no longer waits for.
        closed = asyncio.ensure_future(reader.read())
        try:
            await asyncio.wait({producing, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            done.set()
            closed.cancel()
            if not producing.done():  # the client went, or the server stops
                writer.transport.abort()
            try:
                await producing
            except (ConnectionError, OSError, concurrent.futures.CancelledError):
                pass

    def close(self) -> None:
        self._threads.shutdown(wait=False)


def _line(record: dict) -> bytes:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
