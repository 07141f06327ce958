"""The commands the API sends the worker through RabbitMQ, and where they travel.

The exchange, queue and routing key are written once, in broker_names.json, which Salt
reads too (salt/rabbitmq/map.jinja): they are the defaults, and Salt passes the names set
in pillar (``raycrafter:rabbitmq``) to the API, the worker and the broker alike.
"""
import json
import os

with open(os.path.join(os.path.dirname(__file__), "broker_names.json"), encoding="utf-8") as f:
    _NAMES = json.load(f)
EXCHANGE = _NAMES["exchange"]
QUEUE = _NAMES["queue"]
ROUTING_KEY = _NAMES["routing_key"]
COMMANDS = ("submit", "cancel", "collect")


def command_body(command_id, command, job_id, cluster, created_at):
    """The JSON body of one command message (``created_at`` an ISO 8601 text)."""
    if command not in COMMANDS:
        raise ValueError("unknown command %r" % (command,))
    return json.dumps({"id": command_id, "command": command, "job_id": int(job_id),
                       "cluster": cluster, "created_at": created_at}).encode("utf-8")


def parse_command(body):
    """The command dict of a message body, or ValueError for one no handler can act on."""
    try:
        message = json.loads(body)
    except (TypeError, UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("not JSON") from None
    if not isinstance(message, dict) or message.get("command") not in COMMANDS:
        raise ValueError("not a command")
    if not isinstance(message.get("job_id"), int) or isinstance(message["job_id"], bool):
        raise ValueError("job_id must be an integer")
    return message
