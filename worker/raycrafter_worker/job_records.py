"""The worker's and a site agent's records about jobs, sent to the log server beside the
node agents' (raycrafter_contract.job_logging), with the credential the API issues them:
neither holds the key credentials are signed with."""
import logging
import threading

from raycrafter_contract import job_logging
from raycrafter_contract.utilities.backoff import Backoff

from .errors import PermanentError, TransientError

log = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 300.0


def ship_when_issued(api, log_server, ca_file, program, stop):
    """Ask the API for the credential in the background (until it answers, or ``stop``),
    then send this process's records about jobs to ``log_server``; the thread, or None
    without a log server."""
    if not log_server:
        return None
    thread = threading.Thread(target=_ship, args=(api, log_server, ca_file, program, stop),
                              name="log-credential", daemon=True)
    thread.start()
    return thread


def _ship(api, log_server, ca_file, program, stop):
    backoff = Backoff(first=2.0, cap=MAX_WAIT_SECONDS)
    while not stop.is_set():
        try:
            issued = api.log_credential()
        except TransientError as error:
            delay = backoff.next_delay()
            log.warning("no log credential yet (%s); asking again in %.0f s", error, delay)
            stop.wait(delay)
            continue
        except PermanentError as error:
            log.warning("records about jobs stay in this log only: %s", error)
            return
        job_logging.ship_job_records(log_server, issued.credential, program, ca_file)
        log.info("records about jobs go to the log server %s too, as %s", log_server,
                 issued.service)
        return
