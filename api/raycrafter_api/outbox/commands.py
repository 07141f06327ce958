"""The transactional outbox: commands for the worker, written beside the state change that
causes them and published later by the relay (``relay.py``); those for a cluster in pull
mode are not published but asked for by its site agent (``routes_site.py``)."""
import datetime
import uuid

from raycrafter_contract import messaging
from raycrafter_contract.states import COMMAND_FOR_STATE
from raycrafter_contract.wire.site_calls import SiteCommand

from .. import timeutil
from ..database import db
from ..database.db import write_transaction
from ..database.models import Command, Job
from ..problems import not_found

# PostgreSQL holds a NOTIFY until its transaction commits, then hands it to every relay
# listening on this channel (listener.py), so a command goes out at once.
NOTIFY_CHANNEL = "raycrafter_outbox"


def write_command(job, command):
    """Append a command for ``job``; call inside the transaction that changes its state."""
    written = Command.create(id=str(uuid.uuid4()), job=job.id, command=command,
                             cluster=job.cluster, created_at=timeutil.now())
    if db.is_postgres():
        db.database.execute_sql(f"NOTIFY {NOTIFY_CHANNEL}")
    return written


def message_body(command):
    """The AMQP message body (docs/protocol.md, "Commands over AMQP")."""
    return messaging.command_body(command.id, command.command, command.job_id, command.cluster,
                                  timeutil.iso(command.created_at))


def unsent(limit, leaving_out=()):
    """The oldest commands not yet confirmed by the broker, but those of the clusters
    ``leaving_out`` (in pull mode, or open)."""
    query = Command.select().where(Command.sent_at.is_null())
    if leaving_out:
        query = query.where(Command.cluster.not_in(list(leaving_out)))
    return list(query.order_by(Command.created_at, Command.id).limit(limit))


def undone_for(cluster, limit):
    """The oldest commands for ``cluster`` its site agent has not carried out yet."""
    return list(Command.select().where(Command.sent_at.is_null(), Command.cluster == cluster)
                .order_by(Command.created_at, Command.id).limit(limit))


def site_command(command):
    """A command as a site agent receives it: the AMQP message's fields."""
    return SiteCommand(command.id, command.command, command.job_id, command.cluster,
                       timeutil.iso(command.created_at))


def mark_done(cluster, command_id):
    """A site agent carried out its command ``command_id``: it is not handed out again.
    Marking it twice changes nothing; another cluster's command is not found."""
    command = Command.get_or_none(Command.id == command_id, Command.cluster == cluster)
    if command is None:
        raise not_found("command")
    if command.sent_at is None:
        mark_sent(command.id)
    return command


def mark_sent(command_id):
    Command.update(sent_at=timeutil.now(), last_error=None,
                   publish_attempts=Command.publish_attempts + 1).where(
        Command.id == command_id).execute()


def mark_failed(command_id, error):
    Command.update(last_error=str(error)[:1000],
                   publish_attempts=Command.publish_attempts + 1).where(
        Command.id == command_id).execute()


def reconcile_stuck_jobs(config):
    """Write a new command for every job that sat in a state past its deadline and has had
    no command of that kind since. Returns the commands written."""
    now = timeutil.now()
    written = []
    for state, seconds in config.reconcile_after_seconds.items():
        command = COMMAND_FOR_STATE[state]
        deadline = now - datetime.timedelta(seconds=seconds)
        stuck = Job.select().where(Job.state == state, Job.state_changed_at < deadline)
        for job in stuck:
            with write_transaction():
                recent = (Command.select().where(Command.job == job.id,
                                                 Command.command == command,
                                                 (Command.created_at >= deadline)
                                                 | Command.sent_at.is_null())
                          .exists())
                current = Job.get_by_id(job.id)
                if not recent and current.state == state:
                    written.append(write_command(current, command))
    return written
