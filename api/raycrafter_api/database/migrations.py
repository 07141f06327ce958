"""Schema migrations: an ordered list of functions and a one-row ``schema_version`` table.

Each migration upgrades the schema by one step in place and runs in its own transaction
(DDL is transactional on both SQLite and PostgreSQL). Migrations never import the
application models: each declares the tables it creates as a frozen copy, so that later
model changes cannot alter what an old migration does. ``tests/api/test_api_migrations.py``
checks that the migrated schema has exactly the columns the models declare.

The app factory does not migrate: it refuses to start on an out-of-date schema and says
to run ``raycrafter-admin migrate`` (one explicit step, run by Salt before the services
start, so that several processes never race to migrate).
"""
import peewee
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate

from .db import database, is_postgres


class SchemaOutdated(Exception):
    """The database schema is older (or newer) than this code expects."""


def _initial_schema():
    class Base(peewee.Model):
        class Meta:
            database = database
            legacy_table_names = False

    class User(Base):
        name = peewee.CharField(max_length=64, unique=True)
        role = peewee.CharField(max_length=16)
        created_at = peewee.DateTimeField()

    class Job(Base):
        owner = peewee.ForeignKeyField(User)
        name = peewee.CharField(max_length=200)
        state = peewee.CharField(max_length=16, index=True)
        error = peewee.TextField(null=True)
        scene_kind = peewee.CharField(max_length=8)
        scene_file = peewee.CharField(max_length=255)
        scene_size = peewee.BigIntegerField()
        scene_checksum = peewee.CharField(max_length=64)
        renderer = peewee.CharField(max_length=32)
        options = peewee.TextField()
        frame_first = peewee.IntegerField()
        frame_last = peewee.IntegerField()
        frame_step = peewee.IntegerField()
        width = peewee.IntegerField()
        height = peewee.IntegerField()
        cluster = peewee.CharField(max_length=64)
        submit_attempt = peewee.IntegerField(default=0)
        batch_job_id = peewee.CharField(max_length=128, null=True)
        created_at = peewee.DateTimeField()
        updated_at = peewee.DateTimeField()
        state_changed_at = peewee.DateTimeField()

    class Frame(Base):
        job = peewee.ForeignKeyField(Job, on_delete="CASCADE")
        number = peewee.IntegerField()
        state = peewee.CharField(max_length=16)
        attempts = peewee.IntegerField(default=0)
        lease_id = peewee.CharField(max_length=36, null=True)
        lease_holder = peewee.CharField(max_length=255, null=True)
        lease_expires_at = peewee.DateTimeField(null=True)
        render_seconds = peewee.FloatField(null=True)
        checksum = peewee.CharField(max_length=64, null=True)
        size = peewee.BigIntegerField(null=True)
        log_tail = peewee.TextField(null=True)
        error = peewee.TextField(null=True)
        image_checksum = peewee.CharField(max_length=64, null=True)
        updated_at = peewee.DateTimeField()

        class Meta:
            indexes = ((("job", "number"), True), (("job", "state", "number"), False))

    class Token(Base):
        kind = peewee.CharField(max_length=16)
        user = peewee.ForeignKeyField(User, null=True)
        job = peewee.ForeignKeyField(Job, null=True, on_delete="CASCADE")
        token_hash = peewee.CharField(max_length=64, unique=True)
        prefix = peewee.CharField(max_length=16, index=True)
        managed = peewee.BooleanField(default=False)
        created_at = peewee.DateTimeField()
        revoked_at = peewee.DateTimeField(null=True)

    class Event(Base):
        job = peewee.ForeignKeyField(Job, on_delete="CASCADE")
        frame = peewee.IntegerField(null=True)
        at = peewee.DateTimeField()
        actor = peewee.CharField(max_length=128)
        from_state = peewee.CharField(max_length=16, null=True)
        to_state = peewee.CharField(max_length=16)
        reason = peewee.TextField(null=True)

    class Command(Base):
        id = peewee.CharField(max_length=36, primary_key=True)
        job = peewee.ForeignKeyField(Job, on_delete="CASCADE")
        command = peewee.CharField(max_length=16)
        cluster = peewee.CharField(max_length=64)
        created_at = peewee.DateTimeField(index=True)
        sent_at = peewee.DateTimeField(null=True, index=True)

    database.create_tables([User, Job, Frame, Token, Event, Command])


def _outbox_diagnostics():
    """Record how often the relay tried a command and why it last failed."""
    migrator = PostgresqlMigrator(database) if is_postgres() else SqliteMigrator(database)
    migrate(
        migrator.add_column("command", "publish_attempts", peewee.IntegerField(default=0)),
        migrator.add_column("command", "last_error", peewee.TextField(null=True)),
    )


def _animation():
    """A job's POV-Ray animation. Jobs from before it get the animation they were rendered
    as: their frame range, the clock from 0 to 1.

    Plain ALTER TABLE ... NOT NULL DEFAULT, not the peewee migrator: on SQLite the migrator
    makes a column NOT NULL by rebuilding the table, and dropping the old ``job`` table
    cascades to every frame, event and command of every job."""
    false = "false" if is_postgres() else "0"
    boolean = "BOOLEAN" if is_postgres() else "INTEGER"
    # Double precision: a clock must reach POV-Ray as the digits the user wrote.
    double = "DOUBLE PRECISION" if is_postgres() else "REAL"
    for column, kind, default in (("anim_initial_frame", "INTEGER", "1"),
                                  ("anim_final_frame", "INTEGER", "1"),
                                  ("anim_initial_clock", double, "0"),
                                  ("anim_final_clock", double, "1"),
                                  ("anim_cyclic", boolean, false)):
        database.execute_sql(f"ALTER TABLE job ADD COLUMN {column} {kind} NOT NULL "
                             f"DEFAULT {default}")
    database.execute_sql("UPDATE job SET anim_initial_frame = frame_first, "
                         "anim_final_frame = frame_last")


def _submitted_attempt():
    """Which attempt was last reported submitted, so an open attempt is resumed, not
    replaced. Jobs from before it count every recorded attempt as submitted."""
    database.execute_sql("ALTER TABLE job ADD COLUMN submitted_attempt INTEGER NOT NULL "
                         "DEFAULT 0")
    database.execute_sql("UPDATE job SET submitted_attempt = submit_attempt")


def _leased_frames_by_expiry():
    """The leased frames of a job in order of expiry, so that finding its overdue leases
    (every claim does) reads those, not every frame the job has leased; partial, so frames
    that are not leased cost it nothing."""
    database.execute_sql("CREATE INDEX frame_leased_by_expiry ON frame "
                         "(job_id, lease_expires_at) WHERE state = 'leased'")


def _token_lifetimes():
    """An agent token's submission attempt, so it can be revoked with its batch job, and an
    expiry a user token may carry. Agent tokens from before it have no attempt: they count
    as older than any attempt, and go at the next end of a batch job or attempt recorded."""
    migrator = PostgresqlMigrator(database) if is_postgres() else SqliteMigrator(database)
    migrate(
        migrator.add_column("token", "attempt", peewee.IntegerField(null=True)),
        migrator.add_column("token", "expires_at", peewee.DateTimeField(null=True)),
    )


def _site_tokens():
    """The cluster a site agent's token belongs to, and the outbox's commands by cluster,
    which each site agent asks for."""
    migrator = PostgresqlMigrator(database) if is_postgres() else SqliteMigrator(database)
    migrate(migrator.add_column("token", "cluster", peewee.CharField(max_length=64, null=True)))
    database.execute_sql("CREATE INDEX command_unsent_by_cluster ON command "
                         "(cluster, created_at) WHERE sent_at IS NULL")


def _disabled_users():
    """A user an administrator disabled: their tokens are refused, their jobs kept."""
    migrator = PostgresqlMigrator(database) if is_postgres() else SqliteMigrator(database)
    migrate(migrator.add_column("user", "disabled_at", peewee.DateTimeField(null=True)))


def _frames_by_change():
    """A job's frames in order of their last change, so a viewer polling a large job for
    what changed since its last look reads those frames, not all of them."""
    database.execute_sql("CREATE INDEX frame_by_change ON frame (job_id, updated_at)")


def _notifications():
    """Word when a job ends: its webhook and e-mail address, each user's webhook secret,
    and the table of deliveries the notifier works through."""
    migrator = PostgresqlMigrator(database) if is_postgres() else SqliteMigrator(database)
    migrate(
        migrator.add_column("job", "notify_url", peewee.CharField(max_length=2000, null=True)),
        migrator.add_column("job", "notify_email", peewee.CharField(max_length=254, null=True)),
        migrator.add_column("user", "webhook_secret", peewee.CharField(max_length=64,
                                                                       null=True)),
    )

    class Base(peewee.Model):
        class Meta:
            database = database
            legacy_table_names = False

    class Job(Base):
        pass

    class Notification(Base):
        id = peewee.CharField(max_length=36, primary_key=True)
        job = peewee.ForeignKeyField(Job, on_delete="CASCADE")
        channel = peewee.CharField(max_length=8)
        target = peewee.CharField(max_length=2000)
        body = peewee.TextField()
        created_at = peewee.DateTimeField()
        next_attempt_at = peewee.DateTimeField(null=True, index=True)
        attempts = peewee.IntegerField(default=0)
        delivered_at = peewee.DateTimeField(null=True)
        last_error = peewee.TextField(null=True)

    database.create_tables([Notification])


def _change_stamps():
    """The transaction that last wrote each job and frame row, so that a job's latest change
    is read off an index and a poll of an unchanged job is answered before its view is
    built (jobs/job_tags.py). Stamped by the database on PostgreSQL, whatever statement
    writes the row; SQLite has no transaction ids and leaves the column empty. Rows from
    before it stay empty too: older than any transaction still running."""
    migrator = PostgresqlMigrator(database) if is_postgres() else SqliteMigrator(database)
    migrate(migrator.add_column("job", "change_xact", peewee.BigIntegerField(null=True)),
            migrator.add_column("frame", "change_xact", peewee.BigIntegerField(null=True)))
    if not is_postgres():
        return
    # pg_current_xact_id() is the 64-bit id (xid8), which never wraps around.
    database.execute_sql(
        "CREATE FUNCTION stamp_change_xact() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN NEW.change_xact := pg_current_xact_id()::text::bigint; RETURN NEW; END $$")
    for table in ("job", "frame"):
        database.execute_sql(f"CREATE TRIGGER {table}_change_xact BEFORE INSERT OR UPDATE "
                             f"ON {table} FOR EACH ROW EXECUTE FUNCTION stamp_change_xact()")
    database.execute_sql("CREATE INDEX frame_by_change_xact ON frame (job_id, change_xact)")
    # A user's latest written job, and anyone's (an admin's list), each a probe.
    database.execute_sql("CREATE INDEX job_by_owner_change_xact ON job (owner_id, change_xact)")
    database.execute_sql("CREATE INDEX job_by_change_xact ON job (change_xact)")


MIGRATIONS = (_initial_schema, _outbox_diagnostics, _animation, _submitted_attempt,
              _leased_frames_by_expiry, _token_lifetimes, _site_tokens, _disabled_users,
              _frames_by_change, _notifications, _change_stamps)
LATEST = len(MIGRATIONS)


def _version_table():
    class SchemaVersion(peewee.Model):
        version = peewee.IntegerField()

        class Meta:
            database = database
            table_name = "schema_version"
    return SchemaVersion


def current_version():
    """The schema version of the bound database (0 for an empty database)."""
    if "schema_version" not in database.get_tables():
        return 0
    row = _version_table().select().first()
    return row.version if row else 0


def migrate_to(target=LATEST):
    """Apply the pending migrations up to ``target``; return the list of versions applied."""
    version_table = _version_table()
    with database.atomic():
        database.create_tables([version_table])
        if not version_table.select().exists():
            version_table.create(version=0)
    applied = []
    for number in range(current_version() + 1, target + 1):
        with database.atomic():
            MIGRATIONS[number - 1]()
            version_table.update(version=number).execute()
        applied.append(number)
    return applied


def check_current():
    """Raise SchemaOutdated unless the database is at exactly the latest version."""
    version = current_version()
    if version < LATEST:
        raise SchemaOutdated(
            f"database schema is at version {version}, this code needs {LATEST}: "
            f"run `raycrafter-admin --config FILE migrate`")
    if version > LATEST:
        raise SchemaOutdated(
            f"database schema is at version {version}, newer than this code ({LATEST}): "
            f"upgrade raycrafter-api")
