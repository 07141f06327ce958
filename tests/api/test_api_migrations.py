"""Schema migrations create the models' schema and upgrade an existing database in place."""
import secrets

import pytest

from raycrafter_api import app as app_module, auth, config as config_module
from raycrafter_api.database import db, migrations
from raycrafter_api.database.models import MODELS, Command
from raycrafter_api.problems import Unauthenticated


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/empty.db"
    else:
        server = request.getfixturevalue("postgres")
        name = f"m_{secrets.token_hex(4)}"
        url = server.create_database(name)
    db.bind(url)
    with db.connection():
        yield url
    if request.param == "postgres":
        server.drop_database(name)


def test_migrations_build_exactly_the_models_schema(empty_database):
    assert migrations.current_version() == 0
    assert migrations.migrate_to() == list(range(1, migrations.LATEST + 1))
    assert migrations.current_version() == migrations.LATEST
    assert migrations.migrate_to() == []
    for model in MODELS:
        columns = {c.name for c in db.database.get_columns(model._meta.table_name)}
        assert columns == {f.column_name for f in model._meta.sorted_fields}, model.__name__
    expiry = {index.name: index for index in db.database.get_indexes("frame")}[
        "frame_leased_by_expiry"]
    assert expiry.columns == ["job_id", "lease_expires_at"] and "leased" in expiry.sql
    by_change = {index.name: index for index in db.database.get_indexes("frame")}[
        "frame_by_change"]
    assert by_change.columns == ["job_id", "updated_at"]
    by_cluster = {index.name: index for index in db.database.get_indexes("command")}[
        "command_unsent_by_cluster"]
    assert by_cluster.columns == ["cluster", "created_at"] and "sent_at" in by_cluster.sql
    if db.is_postgres():  # the stamps jobs' tags are made of (SQLite has none)
        by_stamp = {index.name: index.columns for table in ("frame", "job")
                    for index in db.database.get_indexes(table)}
        assert by_stamp["frame_by_change_xact"] == ["job_id", "change_xact"]
        assert by_stamp["job_by_owner_change_xact"] == ["owner_id", "change_xact"]
        triggers = {row[0] for row in db.database.execute_sql(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal").fetchall()}
        assert triggers == {"job_change_xact", "frame_change_xact"}


def test_upgrade_keeps_existing_data(empty_database):
    migrations.migrate_to(1)
    now = "2026-01-01 00:00:00"
    db.database.execute_sql(
        'INSERT INTO "user" (name, role, created_at) VALUES (%s, %s, %s)'.replace(
            "%s", "?" if not db.is_postgres() else "%s"), ("alice", "user", now))
    placeholders = ", ".join(["?" if not db.is_postgres() else "%s"] * 21)
    db.database.execute_sql(
        f"INSERT INTO job (owner_id, name, state, error, scene_kind, scene_file, scene_size, "
        f"scene_checksum, renderer, options, frame_first, frame_last, frame_step, width, "
        f"height, cluster, submit_attempt, batch_job_id, created_at, updated_at, "
        f"state_changed_at) VALUES ({placeholders})",
        (1, "old job", "pending", None, "pov", "scene.pov", 10, "0" * 64, "povray", "{}", 5, 9,
         2, 8, 8, "default", 0, None, now, now, now))
    mark = "?" if not db.is_postgres() else "%s"
    db.database.execute_sql(
        f"INSERT INTO command (id, job_id, command, cluster, created_at, sent_at) "
        f"VALUES ({', '.join([mark] * 6)})", ("c-1", 1, "submit", "default", now, None))
    # An agent token issued before tokens knew their attempt, and a user's.
    agent_token, user_token = auth.new_token(), auth.new_token()
    for kind, user, job, token in (("agent", None, 1, agent_token),
                                   ("user", 1, None, user_token)):
        db.database.execute_sql(
            f"INSERT INTO token (kind, user_id, job_id, token_hash, prefix, managed, "
            f"created_at) VALUES ({', '.join([mark] * 7)})",
            (kind, user, job, auth.hash_token(token), token[:8], False, now))
    with pytest.raises(migrations.SchemaOutdated, match="raycrafter-admin"):
        migrations.check_current()
    assert migrations.migrate_to() == list(range(2, migrations.LATEST + 1))
    # Both still work; the agent's counts as older than any attempt, so the next end of a
    # batch job of its job revokes it.
    assert auth.authenticate(f"Bearer {user_token}").user_name == "alice"
    assert auth.authenticate(f"Bearer {agent_token}").job_id == 1
    auth.revoke_agent_tokens(1, up_to_attempt=1)
    with pytest.raises(Unauthenticated, match="revoked"):
        auth.authenticate(f"Bearer {agent_token}")
    command = Command.get_by_id("c-1")
    assert command.job.name == "old job" and command.publish_attempts == 0
    assert command.last_error is None
    # The animation an old job was rendered as: its frame range, the clock from 0 to 1.
    job = command.job
    assert (job.anim_initial_frame, job.anim_final_frame, job.anim_initial_clock,
            job.anim_final_clock, job.anim_cyclic) == (5, 9, 0.0, 1.0, False)
    # Nobody is told of an old job's end, and an old user has no webhook secret yet.
    assert (job.notify_url, job.notify_email, job.owner.webhook_secret) == (None, None, None)
    migrations.check_current()


def test_app_factory_refuses_an_outdated_schema(empty_database, tmp_path):
    config = config_module.from_dict({"database_url": empty_database,
                                      "data_dir": str(tmp_path / "data")})
    with pytest.raises(migrations.SchemaOutdated, match="version 0, this code needs"):
        app_module.create_app(config)
