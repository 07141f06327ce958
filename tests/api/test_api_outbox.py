"""Commands reach the broker exactly as docs/protocol.md says, and are never lost:
not while the broker is down, not when nothing is bound to receive them."""
import json
import secrets
import subprocess
import sys

import pika
import pytest
from raycrafter_contract.messaging import EXCHANGE, QUEUE

from raycrafter_api import timeutil
from raycrafter_api.database import db
from raycrafter_api.database.models import Command
from raycrafter_api.metrics import series
from raycrafter_api.outbox import commands, relay
from support.api_server import write_config
from support.polling import wait_for
from support.rabbitmq import ThrowawayRabbitMQ



@pytest.fixture(scope="session")
def rabbitmq():
    broker = ThrowawayRabbitMQ().start()
    broker.api_password = secrets.token_hex(8)
    broker.add_user("api", broker.api_password, r"^raycrafter\.commands$",
                    r"^raycrafter\.commands$", "^$")
    yield broker
    broker.destroy()


@pytest.fixture
def vhost(rabbitmq):
    """A fresh virtual host: the API user may write the exchange, admin may do anything."""
    name = f"t{secrets.token_hex(4)}"
    rabbitmq.ctl("add_vhost", name)
    rabbitmq.ctl("set_permissions", "-p", name, "admin", ".*", ".*", ".*")
    rabbitmq.ctl("set_permissions", "-p", name, "api", r"^raycrafter\.commands$",
                 r"^raycrafter\.commands$", "^$")
    urls = {user: f"amqp://{user}:{password}@127.0.0.1:{rabbitmq.port}/{name}"
            for user, password in (("admin", rabbitmq.admin_password),
                                   ("api", rabbitmq.api_password))}
    yield urls
    if rabbitmq.process is None:
        rabbitmq.start()
    rabbitmq.ctl("delete_vhost", name)


def declare_worker_queue(admin_url):
    """What the worker does: declare its queue and bind it (the API may not)."""
    connection = pika.BlockingConnection(pika.URLParameters(admin_url))
    channel = connection.channel()
    channel.exchange_declare(EXCHANGE, exchange_type="direct", durable=True)
    channel.queue_declare(QUEUE, durable=True)
    channel.queue_bind(QUEUE, EXCHANGE, routing_key="worker")
    connection.close()


def take_messages(admin_url):
    connection = pika.BlockingConnection(pika.URLParameters(admin_url))
    channel = connection.channel()
    messages = []
    while True:
        method, properties, body = channel.basic_get(QUEUE, auto_ack=True)
        if method is None:
            break
        messages.append((properties, json.loads(body)))
    connection.close()
    return messages


@pytest.fixture
def config_values(config_values, vhost):
    return {**config_values, "amqp_url": vhost["api"], "relay_poll_seconds": 0.1}


def sent(command_id):
    with db.connection():
        return Command.get_by_id(command_id).sent_at is not None


def relayed(name):
    return series.REGISTRY.get_sample_value(f"raycrafter_relay_commands_{name}_total",
                                            {"command": "submit"})


def test_relay_publishes_confirmed_persistent_commands(world, api, vhost):
    declare_worker_queue(vhost["admin"])
    worker_relay = relay.Relay(api.config)
    published, confirmed = relayed("published"), relayed("confirmed")
    assert worker_relay.publish_pending() == 2  # the submit commands of jobs X and Y
    assert (relayed("published"), relayed("confirmed")) == (published + 2, confirmed + 2)
    worker_relay.publisher.close()
    messages = take_messages(vhost["admin"])
    with db.connection():
        written = {c.id: c for c in Command.select()}
    assert len(messages) == 2
    for properties, body in messages:
        command = written[body["id"]]
        assert command.sent_at is not None
        assert properties.message_id == command.id and properties.delivery_mode == 2
        assert properties.content_type == "application/json"
        assert body == {"id": command.id, "command": "submit", "job_id": command.job_id,
                        "cluster": "default", "created_at": timeutil.iso(command.created_at)}
    assert worker_relay.publish_pending() == 0


def test_unroutable_command_stays_unsent(world, api, vhost):
    worker_relay = relay.Relay(api.config)
    published, confirmed = relayed("published"), relayed("confirmed")
    delay = worker_relay.step()
    assert delay > 0
    # Handed over, never confirmed.
    assert (relayed("published"), relayed("confirmed")) == (published + 1, confirmed)
    with db.connection():
        unsent = commands.unsent(10)
    assert len(unsent) == 2 and "no queue is bound" in unsent[0].last_error
    assert unsent[0].publish_attempts == 1


def test_the_api_user_may_not_declare_queues(vhost):
    connection = pika.BlockingConnection(pika.URLParameters(vhost["api"]))
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
        connection.channel().queue_declare("sneaky", durable=True)
    assert refused.value.reply_code == 403
    connection.close()


def test_health_reports_the_broker(world, api, rabbitmq):
    assert world.anonymous.get("/health").json() == {"status": "ok", "database": "ok",
                                                       "broker": "ok"}


def test_command_written_while_broker_is_down_is_delivered_when_it_is_back(
        world, api, vhost, rabbitmq, tmp_path):
    declare_worker_queue(vhost["admin"])
    rabbitmq.stop()
    job = world.create_job(world.alice)
    with db.connection():
        command = Command.get(Command.job == job["id"])
    config_path = write_config(tmp_path / "relay.toml", **api.config.__dict__)
    log_path = tmp_path / "relay.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "raycrafter_api.outbox.relay",
                                    "--config", config_path],
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "publishing failed" in log_path.read_text(), timeout=30,
                 message="the relay to find the broker down")
        assert not sent(command.id)
        rabbitmq.start()
        wait_for(lambda: sent(command.id), timeout=60, message="the command to be confirmed")
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert process.returncode == 0, log_path.read_text()
    delivered = [body["id"] for _, body in take_messages(vhost["admin"])]
    assert delivered.count(command.id) == 1


@pytest.mark.postgres_only  # SQLite has no LISTEN/NOTIFY: there the relay polls
def test_a_command_goes_out_as_soon_as_it_is_written_not_at_the_relays_next_poll(
        world, api, vhost, tmp_path):
    """On PostgreSQL the writing transaction tells the waiting relay (LISTEN/NOTIFY)."""
    declare_worker_queue(vhost["admin"])
    config_path = write_config(tmp_path / "relay.toml",
                               **{**api.config.__dict__, "relay_poll_seconds": 600.0})
    with open(tmp_path / "relay.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "raycrafter_api.outbox.relay",
                                    "--config", config_path],
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        with db.connection():
            first_round = [command.id for command in Command.select()]
        wait_for(lambda: all(sent(command_id) for command_id in first_round), timeout=30,
                 message="the relay's first round")
        job = world.create_job(world.alice)
        with db.connection():
            command = Command.get(Command.job == job["id"])
        wait_for(lambda: sent(command.id), timeout=30, message="the new command sent")
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert process.returncode == 0, (tmp_path / "relay.log").read_text()
