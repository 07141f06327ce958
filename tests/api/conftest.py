"""Fixtures for the API tests: every endpoint test runs on SQLite and on PostgreSQL.

``api`` is the real application served by waitress in a thread of the test process (real
HTTP, fresh database and data directory per test); ``world`` adds users, tokens and jobs.
Tests that need a separate process use ``support.api_server.ApiServer``.
"""
import dataclasses
import itertools
import secrets
import threading

import pytest
import waitress

from raycrafter_api import app as app_module
from raycrafter_api import auth, config as config_module
from raycrafter_api import timeutil
from raycrafter_api.database import db, migrations
from raycrafter_api.database.models import User
from support.api_testing import Client, World
from support.postgres import ThrowawayPostgres

_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgres():
    server = ThrowawayPostgres().start()
    try:
        url = server.create_database("rc_template")
        db.bind(url)
        with db.connection():
            migrations.migrate_to()
        db.dispose()
        yield server
    finally:
        server.stop()


def pytest_collection_modifyitems(config, items):
    """A ``postgres_only`` test is about something SQLite lacks (LISTEN/NOTIFY, planner
    statistics): its SQLite case is deselected, not reported as a skip."""
    sqlite_cases = [item for item in items if item.get_closest_marker("postgres_only")
                    and getattr(item, "callspec", None)
                    and item.callspec.params.get("database_url") == "sqlite"]
    if sqlite_cases:
        config.hook.pytest_deselected(items=sqlite_cases)
        items[:] = [item for item in items if item not in sqlite_cases]


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    """A fresh, migrated database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/api.db"
        db.bind(url)
        with db.connection():
            migrations.migrate_to()
        yield url
        return
    server = request.getfixturevalue("postgres")
    name = f"t{next(_database_numbers)}_{secrets.token_hex(3)}"
    server.psql(f'CREATE DATABASE "{name}" TEMPLATE rc_template')
    db.bind(server.url(name))
    yield server.url(name)
    db.dispose()
    server.drop_database(name)


@pytest.fixture
def config_values(tmp_path, database_url):
    """Config keys for the ``api`` fixture; override in a test module to change them."""
    return {"database_url": database_url, "data_dir": str(tmp_path / "data"),
            "clusters": ["default", "archer"], "lease_seconds": 60, "max_attempts": 3,
            "max_submissions": 2}


@dataclasses.dataclass
class Api:
    url: str
    config: object
    clients: list = dataclasses.field(default_factory=list)

    def client(self, token=None):
        client = Client(self.url, token)
        self.clients.append(client)
        return client

    def user_token(self, name, role="user"):
        with db.connection():
            user = User.create(name=name, role=role, created_at=timeutil.now())
            return auth.issue_token("user", user=user)

    def worker_token(self):
        with db.connection():
            return auth.issue_token("worker")

    def site_token(self, cluster):
        with db.connection():
            return auth.issue_token("site", cluster=cluster)


@pytest.fixture
def api_at():
    """An ``Api`` for the API served elsewhere (its processes) on the database under test:
    ``api_at(url)``."""
    made = []

    def make(url):
        made.append(Api(url, None))
        return made[-1]
    yield make
    for api in made:
        for client in api.clients:
            client.close()


def serve(application):
    """Run waitress in a thread; its loop checks a flag so it can be stopped cleanly."""
    server = waitress.create_server(application, host="127.0.0.1", port=0, threads=8)
    stopping = threading.Event()

    def loop():
        while not stopping.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)
        for channel in list(server._map.values()):
            channel.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return server, stopping, thread


def stop(server, stopping, thread):
    stopping.set()
    thread.join(timeout=10)
    server.task_dispatcher.shutdown()


@pytest.fixture
def api(config_values):
    config = config_module.from_dict(config_values)
    server, stopping, thread = serve(app_module.create_app(config))
    api = Api(f"http://127.0.0.1:{server.effective_port}/api/v1", config)
    yield api
    for client in api.clients:
        client.close()
    stop(server, stopping, thread)
    db.dispose()


@pytest.fixture
def world(api):
    return World(api)
