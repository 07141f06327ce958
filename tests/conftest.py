"""Settings every tier shares: keep pytest-salt-factories' helper servers on loopback.

pytest-salt-factories starts a log server and an event listener for the Salt daemons it
runs, and binds both to 0.0.0.0 by default. Tests send traffic to loopback only, so both
are moved to 127.0.0.1 before they start.
"""
import logging
import pathlib
import shutil
import tempfile

import pytest
from saltfactories.plugins.event_listener import EventListener

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"

# Salt's log handlers flush their queued records at interpreter exit, after pytest has
# closed the streams they write to; without this each one prints a "Logging error" trace
# below the test summary.
logging.raiseExceptions = False


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    log_server = session.config.pluginmanager.get_plugin("saltfactories-log-server")
    if log_server is not None:
        log_server.log_host = LOOPBACK


@pytest.fixture(scope="session")
def event_listener():
    listener = EventListener()
    listener.host = LOOPBACK
    listener.address = f"tcp://{LOOPBACK}:{listener.port}"
    with listener:
        yield listener


@pytest.fixture(scope="session")
def salt_factories_config(request):
    """Daemons' root directories live under a short directory of their own in /tmp.

    A Salt daemon binds Unix sockets below its root, e.g. a minion's event bus at
    ROOT/<minion id>/run/minion/minion_event_<hash>_pull.ipc, and Linux refuses a socket path
    longer than 107 bytes (AF_UNIX sun_path). Under pytest's own temporary directory
    (/tmp/pytest-of-root/pytest-49/salt-factories0, 45 bytes) the minion `raycrafter-logging`
    needs 108: it starts without its event bus, runs jobs, and can never hand their returns
    to its main process ("The minion failed to return the job information"), so the master
    waits for returns that never come.
    The directory is kept when a test failed, for the daemons' logs.
    """
    root_dir = pathlib.Path(tempfile.mkdtemp(prefix="rc-salt-", dir="/tmp"))
    yield {
        "code_dir": str(REPOSITORY),
        "root_dir": str(root_dir),
        "inject_sitecustomize": False,
    }
    if request.session.testsfailed == 0:
        shutil.rmtree(root_dir, ignore_errors=True)
