"""``raycrafter-admin logs``: the log server's records, asked of its search port from the
web host (raycrafter_contract.log_search: the same options and lines as
``raycrafter-logs`` on the log host).

Where the log server is and the token it is asked with come from a file of their own
(``RAYCRAFTER_LOG_SEARCH_CONFIG``, mode 0600, written by Salt), never from the command
line: ``host``, ``port``, ``ca_file`` (the deployment CA: the server's certificate is
verified by ``host``; empty on one host, where it listens on loopback in plain TCP) and
``token``.
"""
import json
import os
import socket
import ssl
import sys

from raycrafter_contract.log_search import query_from, read_answer, request_line, shown
from raycrafter_contract.utilities.toml_file import read_toml

ENV_VAR = "RAYCRAFTER_LOG_SEARCH_CONFIG"
CONNECT_SECONDS = 10.0
# Without --follow, how long the server may stay silent before the search is given up.
READ_SECONDS = 120.0


class SearchFailed(Exception):
    """The search could not be made; ``str()`` says why."""


def settings(path):
    values = read_toml(path, SearchFailed)
    missing = [key for key in ("host", "port", "token") if not values.get(key)]
    if missing:
        raise SearchFailed(f"the log search settings {path} lack {', '.join(missing)}")
    return values


def connect(values, timeout=CONNECT_SECONDS):
    host, port = values["host"], values["port"]
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as error:
        raise SearchFailed(f"cannot reach the log server at {host}:{port}: "
                           f"{error.strerror or error}") from None
    if not values.get("ca_file"):
        return sock
    context = ssl.create_default_context(cafile=values["ca_file"])
    try:
        return context.wrap_socket(sock, server_hostname=host)
    except (ssl.SSLError, OSError) as error:
        sock.close()
        raise SearchFailed(f"no TLS with the log server at {host}:{port}: {error}") from None


def run(args, out=sys.stdout):
    """Print the records the options ask for. Exit status: 0; 1 when the log server
    cannot be reached or refuses; 2 for a bad option or settings file."""
    try:
        query = query_from(args)
        values = settings(args.search_config or os.environ.get(ENV_VAR)
                          or "/etc/raycrafter/api/log-search.toml")
    except (ValueError, SearchFailed) as error:
        print(f"raycrafter-admin logs: {error}", file=sys.stderr)
        return 2
    try:
        with connect(values) as sock:
            sock.sendall(request_line(values["token"], query))
            sock.settimeout(None if query.follow else READ_SECONDS)
            with sock.makefile("rb") as answer:
                read_answer(answer.readline())
                for line in answer:
                    record = _record(line)
                    if record is not None:
                        print(shown(record), file=out, flush=query.follow)
    except (KeyboardInterrupt, BrokenPipeError):
        return 0
    except SearchFailed as error:
        print(f"raycrafter-admin logs: {error}", file=sys.stderr)
        return 1
    except ValueError as error:  # the server's answer
        print(f"raycrafter-admin logs: the log server at {values['host']}:{values['port']} "
              f"refused the search: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # a timeout too
        print(f"raycrafter-admin logs: the connection to the log server at "
              f"{values['host']}:{values['port']} failed: {error}", file=sys.stderr)
        return 1
    return 0


def _record(line):
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
