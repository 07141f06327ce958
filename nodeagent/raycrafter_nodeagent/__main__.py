"""Entry point: ``raycrafter-nodeagent`` or ``python -m raycrafter_nodeagent``."""

import logging
import os
import socket
import sys
from typing import List, Optional

from . import exit_codes
from .agent import Agent, ApiOutage
from .api_client import ApiClient, ApiRefused
from .config import load_config
from .log_context import LogContext
from .logging_setup import close_shipping, setup_logging
from .signals import StopRequest

log = logging.getLogger("raycrafter_nodeagent")


def main(argv: Optional[List[str]] = None) -> int:
    config = load_config(sys.argv[1:] if argv is None else argv, os.environ)
    stop = StopRequest()
    stop.install()
    context = LogContext(config.job_id, socket.gethostname(), config.batch_job_id)
    shipping = setup_logging(config, context)
    client = ApiClient(config.api_url, config.job_id, config.token, config.ca_file,
                       config.api_timeout, config.api_connect_to)
    try:
        status = Agent(config, client, context, stop).run()
    except ApiRefused as error:
        log.error("giving up: %s", error)
        status = exit_codes.API_REFUSED
    except ApiOutage as error:
        log.error("giving up: %s", error)
        status = exit_codes.API_UNREACHABLE
    except Exception:
        log.exception("unexpected error")
        status = exit_codes.INTERNAL_ERROR
    log.info("agent exits with status %d", status)
    if shipping is not None:
        close_shipping(shipping, config.log_flush_seconds)
    return status


if __name__ == "__main__":
    sys.exit(main())
