"""RabbitMQ: the commands exchange, confirmed publishing, and a reachability check.

The API's RabbitMQ user may configure and write only the exchange (named in the
configuration, ``raycrafter_contract.messaging`` by default); the worker declares and
binds its queue. A command that no queue receives is unroutable and counts as not sent
(``mandatory=True``).
"""
import pika
from raycrafter_contract.messaging import ROUTING_KEY
from raycrafter_contract.utilities.broker_tls import broker_tls


class Unroutable(Exception):
    """The broker accepted the message but no queue is bound to receive it."""


def parameters(url, ca_file=None, timeout=5.0):
    params = pika.URLParameters(url)
    tls = broker_tls(url, ca_file)
    if tls:
        params.ssl_options = pika.SSLOptions(*tls)
    params.socket_timeout = timeout
    params.blocked_connection_timeout = 30
    params.connection_attempts = 1
    return params


def reachable(url, ca_file=None):
    """None if the broker accepts a connection, else the reason it does not."""
    try:
        pika.BlockingConnection(parameters(url, ca_file, timeout=2.0)).close()
    except Exception as error:  # any failure means "unreachable"; the reason is reported
        return f"{type(error).__name__}: {error}".strip()
    return None


class Publisher:
    """One connection and channel in confirm mode, publishing to the commands exchange."""

    def __init__(self, url, exchange, ca_file=None):
        self.exchange = exchange
        self.connection = pika.BlockingConnection(parameters(url, ca_file))
        self.channel = self.connection.channel()
        self.channel.exchange_declare(exchange, exchange_type="direct", durable=True)
        self.channel.confirm_delivery()

    def publish(self, message_id, body):
        """Return once the broker confirmed; raise Unroutable or a pika error otherwise."""
        try:
            self.channel.basic_publish(
                self.exchange, ROUTING_KEY, body,
                properties=pika.BasicProperties(content_type="application/json",
                                                delivery_mode=2, message_id=message_id),
                mandatory=True)
        except pika.exceptions.UnroutableError:
            raise Unroutable(f"no queue is bound to {self.exchange} with key {ROUTING_KEY}") \
                from None

    def close(self):
        if self.connection.is_open:
            self.connection.close()
