"""Where the agent's records go: stderr always (the batch job's output file), and the log
server when one is configured. Both carry the job, node and frame fields of LogContext."""

import logging
import socket
import sys
from typing import Optional

from .config import Config
from raycrafter_contract.gelf_shipping import GelfShippingHandler, tls_context
from .log_context import LogContext

STDERR_FORMAT = "%(asctime)s %(levelname)s %(name)s%(_frame_tag)s: %(message)s"


def setup_logging(config: Config, context: LogContext) -> Optional[GelfShippingHandler]:
    """Configure the root logger; returns the shipping handler so main() can flush it."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter(STDERR_FORMAT))
    stderr.addFilter(context)
    root.addHandler(stderr)
    server = config.log_server
    if server is None:
        return None
    if server.credential is None:
        sys.stderr.write("raycrafter-nodeagent: warning: no log credential in %s: the log "
                         "server takes no record without one, so they go to stderr only\n"
                         % server.credential_file)
        return None
    shipping = GelfShippingHandler(
        server.host, server.port, node=socket.gethostname(), credential=server.credential,
        queue_size=config.log_queue_size,
        ssl_context=tls_context(server.ca_file) if server.tls else None,
        server_name=server.server_name)
    shipping.addFilter(context)
    root.addHandler(shipping)
    return shipping


def close_shipping(shipping: GelfShippingHandler, flush_seconds: float) -> None:
    """Give buffered records a last chance to reach the log server, then say on stderr how
    many did: the only place that number can still be seen if the server never came back."""
    logging.getLogger().removeHandler(shipping)
    shipping.close(flush_seconds)
    print("raycrafter-nodeagent: log shipping: %d records queued, %d sent, %d dropped, "
          "%d unsent" % (shipping.queued, shipping.sent, shipping.dropped, shipping.unsent),
          file=sys.stderr)
