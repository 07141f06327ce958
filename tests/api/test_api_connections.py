"""The API's pooled PostgreSQL connections: one the database dropped while it sat unused is
noticed and replaced before a request uses it, and a new connection prepares the
statements it runs anew."""
import time
import urllib.parse

import pytest

from raycrafter_api.database.db import PING_AFTER_IDLE_SECONDS


@pytest.mark.postgres_only  # SQLite has no server to drop a connection
def test_connections_the_database_dropped_are_replaced_before_a_request_uses_them(
        world, postgres, database_url):
    job_id = world.job_x["id"]
    first = world.claim(world.agent_x, job_id)
    assert first["status"] == "leased"
    name = urllib.parse.urlsplit(database_url).path.lstrip("/")
    dropped = postgres.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            f"WHERE datname = '{name}'")
    assert int(dropped) >= 1
    time.sleep(PING_AFTER_IDLE_SECONDS + 0.2)
    for _ in range(3):  # every pooled connection, whichever the next request gets
        assert world.alice.get(f"/jobs/{job_id}").status_code == 200
        assert world.complete(world.agent_x, job_id, first).status_code == 200
        assert world.claim(world.agent_x, job_id)["status"] in ("leased", "wait")
