"""Settings every tier shares, and which tier a test is in.

pytest-salt-factories starts a log server and an event listener for the Salt daemons it
runs, and binds both to 0.0.0.0 by default. Tests send traffic to loopback only, so both
are moved to 127.0.0.1 before they start.

The fast tier (marker ``fast``: ``./appliance test --fast``, or ``pytest -m fast``) is
every test that needs neither the applied appliance nor a service of its own. A test
needs one by what it asks for: a fixture that starts a service or reaches the applied
appliance (SERVICE_FIXTURES, directly or through other fixtures), or an appliance tier's
marker. So a new test lands in its tier by the fixtures it uses; only a new fixture that
starts a service is named here.
"""
import logging
import pathlib
import shutil
import tempfile

import pytest
from saltfactories.plugins.event_listener import EventListener

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
SERVICE_FIXTURES = frozenset({
    "postgres", "database_url", "empty_database",  # throwaway PostgreSQL; the API on one
    "rabbitmq",                                    # a throwaway RabbitMQ node
    "api_server",                                  # the API as a process (CLI, dashboard)
    "prometheus",                                  # a throwaway Prometheus (operator's page)
    "browser",                                     # headless Chromium (dashboard)
    "setup",                                       # the API, node agents and the log server
    "log_server",                                  # the log server as a process
    "mail_relay",                                  # a throwaway exim4 and SMTP receiver
    "front_doors",                                 # nginx in front of the API
    "salt_factories",                              # Salt daemons and salt-call
    "namespace",                                   # Terraform in a network namespace
    "cluster_secrets",                             # the applied cluster role (worker)
    "first_highstate", "appliance", "hosts",       # the applied or multi-host appliance
})
APPLIANCE_MARKERS = ("apply", "e2e", "hosts")

# Salt's log handlers flush their queued records at interpreter exit, after pytest has
# closed the streams they write to; without this each one prints a "Logging error" trace
# below the test summary.
logging.raiseExceptions = False


@pytest.hookimpl(tryfirst=True)  # before `-m fast` selects by the marker
def pytest_collection_modifyitems(items):
    for item in items:
        if SERVICE_FIXTURES.isdisjoint(item.fixturenames) and not any(
                item.get_closest_marker(marker) for marker in APPLIANCE_MARKERS):
            item.add_marker(pytest.mark.fast)


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
