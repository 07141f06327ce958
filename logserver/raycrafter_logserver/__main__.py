"""``raycrafter-logserver --config FILE``: serve until SIGTERM or SIGINT.

Exit status: 0 after a clean stop, 2 for a bad configuration (the message names the key),
1 when a listener cannot be opened (the address is taken, a certificate unreadable).
"""
import asyncio
import logging
import signal
import sys
from typing import List, Optional

from . import config as config_module
from .command_line import configuration
from .server import LogServer

log = logging.getLogger("raycrafter_logserver")


def main(argv: Optional[List[str]] = None) -> int:
    config = configuration("raycrafter-logserver", __doc__.split("\n")[0], config_module.load,
                           argv)
    if config is None:
        return 2
    try:
        asyncio.run(_serve(LogServer(config)))
    except OSError as error:  # ssl.SSLError is one too
        log.error("cannot serve: %s", error)
        return 1
    return 0


async def _serve(server: LogServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    await server.run(stop)


if __name__ == "__main__":
    sys.exit(main())
