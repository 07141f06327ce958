"""Settings every tier shares: keep pytest-salt-factories' helper servers on loopback.

pytest-salt-factories starts a log server and an event listener for the Salt daemons it
runs, and binds both to 0.0.0.0 by default. Tests send traffic to loopback only, so both
are moved to 127.0.0.1 before they start.
"""
import logging
import pathlib

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
def salt_factories_config(tmp_path_factory):
    return {
        "code_dir": str(REPOSITORY),
        "root_dir": str(tmp_path_factory.mktemp("salt-factories")),
        "inject_sitecustomize": False,
    }
