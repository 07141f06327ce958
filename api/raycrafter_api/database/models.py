"""The API's tables. The database is the source of truth for every job.

All times are naive UTC datetimes (``timeutil.now()``); they are rendered with a ``Z``.
The schema itself is created and upgraded by ``migrations.py``, never by ``create_tables``
at run time, so a model change always comes with a migration.
"""
import peewee

from .db import database



class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class User(BaseModel):
    """A person who submits jobs. Admins see and may cancel every job.

    Users are never deleted, so a job's owner and its events keep their meaning.
    """
    name = peewee.CharField(max_length=64, unique=True)
    role = peewee.CharField(max_length=16)  # "user" | "admin"
    created_at = peewee.DateTimeField()
    # Set by `raycrafter-admin user disable`: every token of the user is refused until
    # `user enable`; the user's jobs go on.
    disabled_at = peewee.DateTimeField(null=True)
    # The key the user's webhooks are signed with (Standard Webhooks, ``whsec_...``): made
    # when first asked for or needed, replaced by a rotation. Kept in the clear, as an HMAC
    # key must be.
    webhook_secret = peewee.CharField(max_length=64, null=True)


class Job(BaseModel):
    """One render request: a scene, a frame range, a target cluster, and where it is.

    ``state`` follows the machine in ``raycrafter_contract.states``; ``state_changed_at`` lets the
    reconciler find jobs stuck in a state. ``submit_attempt`` counts batch submissions and
    is incremented *before* the worker calls the scheduler, so a batch job is always named
    after a recorded attempt (``rc-ID-aK``) and can be looked up after an unclear failure.
    """
    owner = peewee.ForeignKeyField(User, backref="jobs")
    name = peewee.CharField(max_length=200)
    state = peewee.CharField(max_length=16, index=True)
    error = peewee.TextField(null=True)
    scene_kind = peewee.CharField(max_length=8)  # one of raycrafter_contract.scenes.KINDS
    scene_file = peewee.CharField(max_length=255)
    scene_size = peewee.BigIntegerField()
    scene_checksum = peewee.CharField(max_length=64)
    renderer = peewee.CharField(max_length=32)
    options = peewee.TextField()  # JSON object, validated against an allow-list
    frame_first = peewee.IntegerField()
    frame_last = peewee.IntegerField()
    frame_step = peewee.IntegerField()
    # The POV-Ray animation the frames belong to: a frame's clock is its place in it.
    anim_initial_frame = peewee.IntegerField()
    anim_final_frame = peewee.IntegerField()
    anim_initial_clock = peewee.DoubleField()
    anim_final_clock = peewee.DoubleField()
    anim_cyclic = peewee.BooleanField()
    width = peewee.IntegerField()
    height = peewee.IntegerField()
    cluster = peewee.CharField(max_length=64)
    submit_attempt = peewee.IntegerField(default=0)
    # The last attempt reported submitted; an attempt above it is still open (resumed).
    submitted_attempt = peewee.IntegerField(default=0)
    batch_job_id = peewee.CharField(max_length=128, null=True)
    # Who is told when the job ends: a webhook and an e-mail address, each optional.
    notify_url = peewee.CharField(max_length=2000, null=True)
    notify_email = peewee.CharField(max_length=254, null=True)
    created_at = peewee.DateTimeField()
    updated_at = peewee.DateTimeField()
    state_changed_at = peewee.DateTimeField()
    # The transaction that last wrote the row (PostgreSQL stamps it: migrations.py,
    # _change_stamps); a job page's ETag is made of it (jobs/job_tags.py). Empty on SQLite.
    change_xact = peewee.BigIntegerField(null=True)


class Frame(BaseModel):
    """One frame of a job, handed to node agents under a lease.

    A lease is (``lease_id``, ``lease_holder``, ``lease_expires_at``): a result or heartbeat
    carrying another lease id is stale and refused, which is what makes a frame that was
    re-leased after its first holder went silent safe to accept only once.
    ``attempts`` counts failed or expired attempts; ``image_checksum`` is set once the
    worker has uploaded the image and its checksum matched.
    """
    job = peewee.ForeignKeyField(Job, backref="frame_set", on_delete="CASCADE")
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
    # As the job's: the transaction that last wrote the row.
    change_xact = peewee.BigIntegerField(null=True)

    class Meta:
        indexes = ((("job", "number"), True), (("job", "state", "number"), False))


class Token(BaseModel):
    """A bearer token, stored only as its SHA-256 hash.

    ``kind`` says which principal it authenticates: ``user`` (with ``user``), ``worker``
    (the service token), ``agent`` (with ``job`` and the submission ``attempt`` it was
    issued for: valid only for that job's frames, and revoked once that attempt's batch
    job ended, a newer attempt was recorded or the job is over) or ``site`` (with
    ``cluster``: a site agent, valid only for that cluster's jobs). ``prefix`` (the first
    characters of the plaintext) lets an operator name a token to revoke without the token
    itself. ``managed`` tokens were installed by ``token ensure``/``service-token ensure``
    and are replaced when the file changes. A token with ``expires_at`` is refused from
    then on.
    """
    kind = peewee.CharField(max_length=16)
    user = peewee.ForeignKeyField(User, null=True, backref="tokens")
    job = peewee.ForeignKeyField(Job, null=True, backref="tokens", on_delete="CASCADE")
    attempt = peewee.IntegerField(null=True)
    cluster = peewee.CharField(max_length=64, null=True)
    token_hash = peewee.CharField(max_length=64, unique=True)
    prefix = peewee.CharField(max_length=16, index=True)
    managed = peewee.BooleanField(default=False)
    created_at = peewee.DateTimeField()
    expires_at = peewee.DateTimeField(null=True)
    revoked_at = peewee.DateTimeField(null=True)


class Event(BaseModel):
    """Append-only history of every job and frame state change: who, when, from, to, why.

    ``frame`` is null for job state changes. Rows are never updated or deleted.
    """
    job = peewee.ForeignKeyField(Job, backref="events", on_delete="CASCADE")
    frame = peewee.IntegerField(null=True)
    at = peewee.DateTimeField()
    actor = peewee.CharField(max_length=128)
    from_state = peewee.CharField(max_length=16, null=True)
    to_state = peewee.CharField(max_length=16)
    reason = peewee.TextField(null=True)


class Command(BaseModel):
    """The transactional outbox: a command for the worker, written in the same transaction
    as the state change that causes it, and published by the relay.

    ``sent_at`` is set only after the broker confirmed the message; until then the relay
    retries, so a command survives an API crash and a broker outage. ``id`` is the AMQP
    ``message_id`` that consumers deduplicate by. A command for a cluster in pull mode is
    never published: its site agent asks for it, and ``sent_at`` is set once the site
    agent has carried it out (routes_site.py).
    """
    id = peewee.CharField(max_length=36, primary_key=True)
    job = peewee.ForeignKeyField(Job, backref="commands", on_delete="CASCADE")
    command = peewee.CharField(max_length=16)  # "submit" | "cancel" | "collect"
    cluster = peewee.CharField(max_length=64)
    created_at = peewee.DateTimeField(index=True)
    sent_at = peewee.DateTimeField(null=True, index=True)
    publish_attempts = peewee.IntegerField(default=0)
    last_error = peewee.TextField(null=True)


class Notification(BaseModel):
    """Word that a job ended, for its webhook or its e-mail address: written in the same
    transaction as the final state (``notify/messages.py``), delivered by
    ``raycrafter-notifier``.

    ``id`` is the webhook's ``webhook-id`` (the same on every attempt, so a receiver drops
    duplicates); ``body`` is the JSON document sent, signed as it is stored.
    ``next_attempt_at`` is when the notifier tries next; it is null once the word was
    delivered (``delivered_at``) or given up after ``notify_retry_seconds``.
    """
    id = peewee.CharField(max_length=36, primary_key=True)
    job = peewee.ForeignKeyField(Job, backref="notifications", on_delete="CASCADE")
    channel = peewee.CharField(max_length=8)  # "webhook" | "email"
    target = peewee.CharField(max_length=2000)
    body = peewee.TextField()
    created_at = peewee.DateTimeField()
    next_attempt_at = peewee.DateTimeField(null=True, index=True)
    attempts = peewee.IntegerField(default=0)
    delivered_at = peewee.DateTimeField(null=True)
    last_error = peewee.TextField(null=True)


MODELS = (User, Job, Frame, Token, Event, Command, Notification)
