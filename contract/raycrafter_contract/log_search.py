"""What an operator asks of the log server's records, and how the question travels.

One rule for both searches: ``raycrafter-logs`` on the log host reads the files itself,
``raycrafter-admin logs`` on the web host asks the log server's search port. Both take the
same options, parsed here (``parse_level``, ``parse_since``), match records with the same
``Query`` and print each as ``shown`` does.

Over the wire (the logging role's ``log_search`` port, TLS under a salt master): the
client sends one line, a JSON object with the deployment's search token and the query;
the server answers one line, ``{"ok": true}`` or ``{"error": "..."}``, then each matching
record as it is stored (one JSON object per line), and closes; with ``follow`` it goes on
sending new records until the client closes. The token travels inside the TLS stream,
never in a URL or on a command line.

The standard library only, down to Python 3.8, as the rest of the contract.
"""
import argparse
import datetime
import hmac
import json
import re
import time
from typing import NamedTuple, Optional

# Syslog's levels, as GELF carries them (0 the most severe).
LEVELS = {"emergency": 0, "alert": 1, "critical": 2, "error": 3, "warning": 4,
          "notice": 5, "info": 6, "debug": 7}
# The longest request line a server reads (a query is a few hundred bytes).
MAX_REQUEST_BYTES = 8192
_AGE = re.compile(r"([0-9]+)([smhd])")
_AGE_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SearchRefused(ValueError):
    """A request the server will not answer; ``str()`` says why."""


class Query(NamedTuple):
    job: Optional[int] = None
    frame: Optional[int] = None
    level: Optional[int] = None  # this level and the more severe ones
    since: Optional[float] = None  # seconds since the epoch
    grep: Optional[str] = None  # in the message, in any case
    program: Optional[str] = None  # a host's program (nginx, postgresql, ...)
    follow: bool = False

    def matches(self, record: dict) -> bool:
        if self.job is not None and record.get("_job_id") != str(self.job):
            return False
        if self.frame is not None and record.get("_frame") != str(self.frame):
            return False
        if self.program is not None and record.get("_program") != self.program:
            return False
        if self.level is not None and _number(record.get("level"), 6) > self.level:
            return False
        if self.since is not None and _number(record.get("timestamp"), 0) < self.since:
            return False
        return self.grep is None or self.grep.lower() in record.get("short_message", "").lower()


def add_query_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--job", type=int)
    parser.add_argument("--frame", type=int)
    parser.add_argument("--program", help="a host's program: nginx, postgresql, rabbitmq, "
                                          "slurm, salt-minion, ...")
    parser.add_argument("--level", help="this level and those more severe: "
                                        + ", ".join(LEVELS) + ", or 0-7")
    parser.add_argument("--since", help="records from then on: an ISO 8601 time (UTC unless "
                                        "it says) or an age (30m, 2h, 7d)")
    parser.add_argument("--grep", help="records whose message holds this text (any case)")
    parser.add_argument("--follow", action="store_true", help="then wait for new records")


def query_from(args: argparse.Namespace) -> Query:
    """The query ``add_query_options``' options ask; ValueError naming a bad one."""
    return Query(job=args.job, frame=args.frame, level=parse_level(args.level),
                 since=parse_since(args.since, time.time()), grep=args.grep,
                 program=args.program, follow=args.follow)


def parse_level(text: Optional[str]) -> Optional[int]:
    if text is None:
        return None
    if text.isdigit() and int(text) <= 7:
        return int(text)
    if text.lower() in LEVELS:
        return LEVELS[text.lower()]
    raise ValueError("--level %r: one of %s, or 0-7" % (text, ", ".join(LEVELS)))


def parse_since(text: Optional[str], now: float) -> Optional[float]:
    """``--since``: an ISO 8601 time (UTC unless it says) or an age (30m, 2h, 7d)."""
    if text is None:
        return None
    age = _AGE.fullmatch(text)
    if age:
        return now - int(age.group(1)) * _AGE_SECONDS[age.group(2)]
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("--since %r: an ISO 8601 time (2026-12-07T14:00:00Z) or an age "
                         "(30m, 2h, 7d)" % text) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def shown(record: dict) -> str:
    """One line for an operator: the time (UTC), level, what it is about (a job and frame,
    or a host's program), who wrote it (a node, a service, a host), and the message."""
    moment = datetime.datetime.fromtimestamp(_number(record.get("timestamp"), 0),
                                             datetime.timezone.utc)
    level = record.get("level_name") or record.get("level", "")
    if record.get("_job_id"):
        frame = record.get("_frame")
        about = "job %s%s" % (record["_job_id"], " frame %s" % frame if frame else "")
    else:
        about = record.get("_program") or "?"
    origin = (record.get("_node") or record.get("_service") or record.get("_host")
              or record.get("host", ""))
    return "%s %s %s %s: %s" % (moment.strftime("%Y-%m-%d %H:%M:%S"), level, about, origin,
                                record.get("short_message", ""))


def request_line(token: str, query: Query) -> bytes:
    return (json.dumps(dict(query._asdict(), token=token), separators=(",", ":")) + "\n"
            ).encode("utf-8")


def read_request(line: bytes, token: str) -> Query:
    """The query a request line asks, if it carries ``token``; else SearchRefused."""
    try:
        request = json.loads(line)
    except ValueError:
        raise SearchRefused("not a JSON request") from None
    if not isinstance(request, dict):
        raise SearchRefused("not a JSON object")
    given = request.pop("token", None)
    if not isinstance(given, str) or not hmac.compare_digest(given.encode("utf-8"),
                                                             token.encode("utf-8")):
        raise SearchRefused("not the deployment's log search token")
    unknown = sorted(set(request) - set(Query._fields))
    if unknown:
        raise SearchRefused("unknown query keys: %s" % ", ".join(unknown))
    for key, kinds in (("job", int), ("frame", int), ("level", int),
                       ("since", (int, float)), ("grep", str), ("program", str),
                       ("follow", bool)):
        value = request.get(key)
        if value is not None and (not isinstance(value, kinds)
                                  or (isinstance(value, bool) and kinds is not bool)):
            raise SearchRefused("query key %r has the wrong type" % key)
    return Query(**request)


def answer_line(error: Optional[str] = None) -> bytes:
    return (json.dumps({"error": error} if error else {"ok": True}) + "\n").encode("utf-8")


def read_answer(line: bytes) -> None:
    """Nothing if the server answers the search; else SearchRefused with its reason."""
    if not line:
        raise SearchRefused("it closed the connection without an answer")
    try:
        answer = json.loads(line)
    except ValueError:
        raise SearchRefused("its answer is not JSON") from None
    if not isinstance(answer, dict) or answer.get("ok") is not True:
        raise SearchRefused(str(answer.get("error") if isinstance(answer, dict) else answer))


def _number(text, default: float) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return default
