"""Command line and environment configuration of the node agent.

The batch script starts one agent per node with a handful of options; every option also
has a ``RAYCRAFTER_*`` environment variable so a site can set the fixed ones (API URL, CA
file, log server) once in the batch environment. Everything is checked here, before the
agent talks to anybody, so a misconfigured node fails at once with a message a human can
act on instead of burning frame attempts.
"""

import argparse
import json
import os
import re
import socket
import stat
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from raycrafter_contract.addresses import token_may_go_to
from raycrafter_contract.naming import (AGENT_TOKEN_FILE, JOB_FRAMES_DIR, JOB_INPUT_DIR,
                                        JOB_LOGS_DIR, LOG_CREDENTIAL_FILE, MAX_CLAIM_FRAMES,
                                        MAX_HOLDER_CHARS)

from .limits import SMALLEST_FILE_BYTES, RendererLimits, default_memory_bytes
from .renderer_output import MAX_LINE_BYTES
from .renderers.command import CommandRenderer

ENV_PREFIX = "RAYCRAFTER_"
TRUE_WORDS = ("1", "true", "yes", "on")
SIZE = re.compile(r"^(\d+)([KMGT]?)$", re.IGNORECASE)
SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
SMALLEST_MEMORY_BYTES = 64 << 20


class ConfigError(Exception):
    """A setting is missing or unusable; the message says which and what to do."""


@dataclass(frozen=True)
class LogServer:
    """Where GELF records go; ``server_name`` is the name the TLS certificate must carry,
    ``credential`` what each record proves its job with (None: the worker wrote none, and
    the log server would refuse every record)."""

    host: str
    port: int
    tls: bool
    ca_file: Optional[str]
    server_name: str
    credential_file: str
    credential: Optional[str] = field(default=None, repr=False)


@dataclass(frozen=True)
class Config:
    api_url: str
    # Where the API's calls connect, when not to the URL's host: the login node's gateway
    # on a cluster whose compute nodes have no way out. TLS still verifies the URL's name.
    api_connect_to: Optional[Tuple[str, int]]
    ca_file: Optional[str]
    job_id: int
    token: str = field(repr=False)
    job_dir: str
    holder: str
    batch_job_id: Optional[str]
    threads: int
    povray: str
    renderer_commands: Dict[str, List[str]]
    log_server: Optional[LogServer]
    log_queue_size: int
    log_flush_seconds: float
    log_tail_lines: int
    api_timeout: float
    max_api_outage: float
    once: bool
    dry_run: bool
    limits: RendererLimits
    output_lines: int  # renderer output forwarded per frame
    output_bytes: int
    cluster: Optional[str] = None
    allow_unconfined: bool = False
    # None: as many as the protocol allows, so the API's max_chunk_frames is the ceiling.
    max_chunk_frames: Optional[int] = None
    slots: int = 1

    @property
    def input_dir(self) -> str:
        return os.path.join(self.job_dir, JOB_INPUT_DIR)

    @property
    def frames_dir(self) -> str:
        return os.path.join(self.job_dir, JOB_FRAMES_DIR)

    @property
    def logs_dir(self) -> str:
        return os.path.join(self.job_dir, JOB_LOGS_DIR)


def default_threads() -> int:
    """The cores this process may run on: the batch system's CPU binding, not the board's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def render_slots(threads: Optional[str], slots: Optional[str], cores: int) -> Tuple[int, int]:
    """(threads per renderer, renderers at once): by default one single-threaded renderer
    per core; given one of the two, the other fills the cores."""
    try:
        threads_given = None if threads is None else int(threads)
        slots_given = None if slots is None else int(slots)
    except ValueError:
        raise ConfigError("--threads and --slots must be whole numbers") from None
    if threads_given is None:
        threads_given = max(1, cores // slots_given) if slots_given else 1
    if slots_given is None:
        slots_given = max(1, cores // threads_given)
    if threads_given < 1 or slots_given < 1:
        raise ConfigError("--threads and --slots must be at least 1")
    return threads_given, slots_given


def byte_size(text: str) -> int:
    """A size in bytes, as a number with an optional binary unit: 65536, 64K, 2G."""
    match = SIZE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError("%r is not a size (a number of bytes, or with K, M, "
                                         "G or T after it)" % text)
    return int(match.group(1)) * SIZE_UNITS[match.group(2).upper()]


def batch_job_id_from(environ: Mapping[str, str]) -> Optional[str]:
    """Slurm (also under its qsub wrapper) sets SLURM_JOB_ID, PBS/Torque sets PBS_JOBID."""
    return environ.get("SLURM_JOB_ID") or environ.get("PBS_JOBID") or None


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    def env(name: str, default: Optional[str] = None) -> Optional[str]:
        return environ.get(ENV_PREFIX + name, default)

    parser = argparse.ArgumentParser(
        prog="raycrafter-nodeagent",
        description="Claim frames of one Raycrafter job, render them and report the results. "
        "Every option falls back to the RAYCRAFTER_<NAME> environment variable shown.",
    )
    api = parser.add_argument_group("API")
    api.add_argument("--api-url", default=env("API_URL"),
                     help="the API server, e.g. https://raycrafter.example.org (the agent adds /api/v1) "
                     "[RAYCRAFTER_API_URL]")
    api.add_argument("--api-connect-to", default=env("API_CONNECT_TO"), metavar="HOST:PORT",
                     help="connect to this address for every API call instead of the URL's "
                     "host, whose certificate is still verified by the URL's name (a gateway "
                     "on the login node) [RAYCRAFTER_API_CONNECT_TO]")
    api.add_argument("--ca-file", default=env("CA_FILE"),
                     help="CA bundle that signed the API's certificate; the system store if "
                     "unset [RAYCRAFTER_CA_FILE]")
    api.add_argument("--job-id", default=env("JOB_ID"), help="the job to work on [RAYCRAFTER_JOB_ID]")
    api.add_argument("--token-file", default=env("TOKEN_FILE"),
                     help="file holding the job's agent token, mode 0600; default "
                     "JOB_DIR/agent.token [RAYCRAFTER_TOKEN_FILE]")
    api.add_argument("--holder", default=env("HOLDER"),
                     help="name this agent claims leases under; default the host name "
                     "[RAYCRAFTER_HOLDER]")
    api.add_argument("--api-timeout", type=float, default=float(env("API_TIMEOUT", "30")),
                     help="seconds one HTTP call may take [RAYCRAFTER_API_TIMEOUT]")
    api.add_argument("--max-api-outage", type=float, default=float(env("MAX_API_OUTAGE", "900")),
                     help="give up (exit 4) when the API stays unreachable this many seconds "
                     "while there is no frame to report [RAYCRAFTER_MAX_API_OUTAGE]")

    render = parser.add_argument_group("rendering")
    render.add_argument("--job-dir", default=env("JOB_DIR"),
                        help="the job's scratch directory SCRATCH/raycrafter/JOB_ID with input/, "
                        "frames/, logs/ [RAYCRAFTER_JOB_DIR]")
    render.add_argument("--threads", type=int, default=env("THREADS"),
                        help="threads of each renderer process; default 1, or the cores "
                        "this process may use when --slots is 1 [RAYCRAFTER_THREADS]")
    render.add_argument("--slots", type=int, default=env("SLOTS"),
                        help="renderer processes at once, each on its own chunk; default "
                        "the cores this process may use divided by --threads, so parsing "
                        "(single-threaded in POV-Ray) never leaves a core idle "
                        "[RAYCRAFTER_SLOTS]")
    render.add_argument("--max-chunk-frames", type=int, default=env("MAX_CHUNK_FRAMES"),
                        help="this node's own cap on the consecutive frames claimed at once "
                             "and rendered with one renderer process; by default the API's "
                             "max_chunk_frames alone caps them, and it sizes each chunk "
                             "from the job's render times [RAYCRAFTER_MAX_CHUNK_FRAMES]")
    render.add_argument("--povray", default=env("POVRAY", "povray"),
                        help="POV-Ray executable [RAYCRAFTER_POVRAY]")
    render.add_argument("--renderer-command", action="append", default=[], metavar="NAME=JSON",
                        help="a command renderer: NAME=[\"prog\", \"{scene}\", ...] as a JSON "
                        "argument list with placeholders " + CommandRenderer.placeholder_help()
                        + "; repeatable [RAYCRAFTER_RENDERER_COMMANDS as a JSON object]")
    render.add_argument("--log-tail-lines", type=int, default=int(env("LOG_TAIL_LINES", "40")),
                        help="renderer output lines sent to the API with each result "
                        "[RAYCRAFTER_LOG_TAIL_LINES]")
    render.add_argument("--once", action="store_true", help="render one frame, then exit")
    render.add_argument("--dry-run", action="store_true",
                        help="claim one frame, log what would be run, hand the frame back, exit")

    limits = parser.add_argument_group(
        "what each renderer process may use (the batch script passes its cluster profile's)")
    limits.add_argument("--cluster", default=env("CLUSTER"),
                        help="the cluster profile this batch job came through, named in the "
                        "reasons frames fail for [RAYCRAFTER_CLUSTER]")
    limits.add_argument("--allow-unconfined", action="store_true",
                        default=(env("ALLOW_UNCONFINED", "") or "").lower() in TRUE_WORDS,
                        help="render even where the kernel cannot confine the renderer "
                        "(no Landlock); without it every frame claimed there fails "
                        "[RAYCRAFTER_ALLOW_UNCONFINED=1]")

    def size(option: str, name: str, default: str, text: str) -> None:
        limits.add_argument(option, type=byte_size, default=env(name, default),
                            help="%s [RAYCRAFTER_%s, %%(default)s]" % (text, name))

    size("--max-file-bytes", "MAX_FILE_BYTES", "1G", "the largest file a renderer may write, "
         "and never more than an image of the job's size can need")
    limits.add_argument("--max-memory-bytes", type=byte_size, default=env("MAX_MEMORY_BYTES"),
                        help="the memory of each renderer process (its data: RLIMIT_DATA); "
                        "default the node's memory divided by --slots "
                        "[RAYCRAFTER_MAX_MEMORY_BYTES]")
    limits.add_argument("--max-cpu-seconds", type=int,
                        default=int(env("MAX_CPU_SECONDS", "3600")),
                        help="CPU seconds a renderer may use per frame and thread "
                        "[RAYCRAFTER_MAX_CPU_SECONDS, %(default)s]")
    size("--max-work-dir-bytes", "MAX_WORK_DIR_BYTES", "2G", "what a renderer's work "
         "directory may hold; runs of frames are as long as their images fit")
    limits.add_argument("--output-lines", type=int, default=int(env("OUTPUT_LINES", "400")),
                        help="renderer output lines logged per frame (the first half as they "
                        "come, the last at the frame's end) [RAYCRAFTER_OUTPUT_LINES, "
                        "%(default)s]")
    size("--output-bytes", "OUTPUT_BYTES", "32K", "renderer output bytes logged per frame")

    logs = parser.add_argument_group("log server (GELF over TCP)")
    logs.add_argument("--log-host", default=env("LOG_HOST"),
                      help="log server; without it the agent logs to stderr only [RAYCRAFTER_LOG_HOST]")
    logs.add_argument("--log-port", type=int, default=int(env("LOG_PORT", "12201")),
                      help="[RAYCRAFTER_LOG_PORT]")
    logs.add_argument("--log-tls", action="store_true",
                      default=(env("LOG_TLS", "") or "").lower() in TRUE_WORDS,
                      help="TLS to the log server, certificate and host name verified "
                      "[RAYCRAFTER_LOG_TLS=1]")
    logs.add_argument("--log-ca-file", default=env("LOG_CA_FILE"),
                      help="CA bundle for the log server; the system store if unset "
                      "[RAYCRAFTER_LOG_CA_FILE]")
    logs.add_argument("--log-server-name", default=env("LOG_SERVER_NAME"),
                      help="host name the log server's certificate must carry; default "
                      "--log-host [RAYCRAFTER_LOG_SERVER_NAME]")
    logs.add_argument("--log-credential-file", default=env("LOG_CREDENTIAL_FILE"),
                      help="what each record proves its job with (mode 0600); default "
                      "JOB_DIR/%s [RAYCRAFTER_LOG_CREDENTIAL_FILE]" % LOG_CREDENTIAL_FILE)
    logs.add_argument("--log-queue-size", type=int, default=int(env("LOG_QUEUE_SIZE", "20000")),
                      help="records buffered while the log server is unreachable; the oldest "
                      "are dropped beyond it [RAYCRAFTER_LOG_QUEUE_SIZE]")
    logs.add_argument("--log-flush-seconds", type=float,
                      default=float(env("LOG_FLUSH_SECONDS", "20")),
                      help="how long the agent waits at exit for buffered records to reach the "
                      "log server [RAYCRAFTER_LOG_FLUSH_SECONDS]")
    return parser


def load_config(argv: Sequence[str], environ: Mapping[str, str]) -> Config:
    """Parse and check everything; argparse exits with status 2 on any problem."""
    parser = build_parser(environ)
    args = parser.parse_args(argv)
    try:
        return _checked(args, environ)
    except ConfigError as error:
        parser.error(str(error))


def _checked(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    if not args.api_url:
        raise ConfigError("--api-url (RAYCRAFTER_API_URL) is required")
    if not args.job_dir:
        raise ConfigError("--job-dir (RAYCRAFTER_JOB_DIR) is required")
    job_id = _job_id(args.job_id)
    connect_to = (None if args.api_connect_to is None
                  else host_and_port(args.api_connect_to, "--api-connect-to"))
    api_url = _api_url(args.api_url, connect_to)
    job_dir = os.path.abspath(args.job_dir)
    if not os.path.isdir(os.path.join(job_dir, JOB_INPUT_DIR)):
        raise ConfigError("job directory %s has no input/ directory" % job_dir)
    token_file = args.token_file or os.path.join(job_dir, AGENT_TOKEN_FILE)
    threads, slots = render_slots(args.threads, args.slots, default_threads())
    if args.max_chunk_frames is not None and not 1 <= args.max_chunk_frames <= MAX_CLAIM_FRAMES:
        raise ConfigError("--max-chunk-frames must be from 1 to %d" % MAX_CLAIM_FRAMES)
    if args.log_tail_lines < 1 or args.log_queue_size < 1:
        raise ConfigError("--log-tail-lines and --log-queue-size must be at least 1")
    return Config(
        api_url=api_url,
        api_connect_to=connect_to,
        ca_file=_existing_file(args.ca_file, "--ca-file"),
        job_id=job_id,
        token=read_token(token_file),
        job_dir=job_dir,
        holder=_holder(args.holder),
        batch_job_id=batch_job_id_from(environ),
        threads=threads,
        slots=slots,
        povray=args.povray,
        renderer_commands=_renderer_commands(args.renderer_command,
                                             environ.get(ENV_PREFIX + "RENDERER_COMMANDS")),
        log_server=_log_server(args, job_dir),
        log_queue_size=args.log_queue_size,
        log_flush_seconds=args.log_flush_seconds,
        log_tail_lines=args.log_tail_lines,
        api_timeout=args.api_timeout,
        max_api_outage=args.max_api_outage,
        once=args.once or args.dry_run,
        dry_run=args.dry_run,
        limits=_limits(args, slots),
        output_lines=_at_least(args.output_lines, 2, "--output-lines"),
        output_bytes=_at_least(args.output_bytes, 2 * MAX_LINE_BYTES, "--output-bytes"),
        cluster=args.cluster,
        allow_unconfined=args.allow_unconfined,
        max_chunk_frames=args.max_chunk_frames,
    )


def _limits(args: argparse.Namespace, slots: int) -> RendererLimits:
    memory = args.max_memory_bytes
    return RendererLimits(
        file_bytes=_at_least(args.max_file_bytes, SMALLEST_FILE_BYTES, "--max-file-bytes"),
        memory_bytes=_at_least(default_memory_bytes(slots) if memory is None else memory,
                               SMALLEST_MEMORY_BYTES, "--max-memory-bytes"),
        cpu_seconds=_at_least(args.max_cpu_seconds, 1, "--max-cpu-seconds"),
        work_dir_bytes=_at_least(args.max_work_dir_bytes, 2 * SMALLEST_FILE_BYTES,
                                 "--max-work-dir-bytes"))


def _at_least(value: int, smallest: int, option: str) -> int:
    if value < smallest:
        raise ConfigError("%s must be at least %d" % (option, smallest))
    return value


def _job_id(value: Optional[str]) -> int:
    if value is None:
        raise ConfigError("--job-id (RAYCRAFTER_JOB_ID) is required")
    try:
        job_id = int(value)
    except ValueError:
        raise ConfigError("--job-id must be a number, not %r" % value) from None
    if job_id < 1:
        raise ConfigError("--job-id must be positive")
    return job_id


def _api_url(url: str, connect_to: Optional[Tuple[str, int]]) -> str:
    """HTTPS only, except to a loopback address (tests, or an SSH tunnel on the node),
    where the calls connect to (``connect_to``) as well as in the URL."""
    if token_may_go_to(url, connect_to[0] if connect_to else None):
        return url.rstrip("/")
    raise ConfigError("--api-url must be an https:// URL (plain http only to loopback, "
                      "--api-connect-to too), not %r" % url)


def host_and_port(text: str, option: str) -> Tuple[str, int]:
    """``HOST:PORT`` (``[V6]:PORT`` for an IPv6 address) as (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("%s wants HOST:PORT, not %r" % (option, text))
    return host.strip("[]"), int(port)



def _holder(given: Optional[str]) -> str:
    """The node's name for its claims: --holder as given, else the host name cut to what the
    API keeps (a long FQDN stays recognisable by its start)."""
    if given is None:
        return socket.gethostname()[:MAX_HOLDER_CHARS]
    if not given.strip() or len(given) > MAX_HOLDER_CHARS or not given.isprintable():
        raise ConfigError("--holder must be 1 to %d printable characters" % MAX_HOLDER_CHARS)
    return given


def _existing_file(path: Optional[str], option: str) -> Optional[str]:
    if path is None:
        return None
    if not os.path.isfile(path):
        raise ConfigError("%s %s does not exist or is not a file" % (option, path))
    return path


def read_token(path: str) -> str:
    """Read the agent token, refusing a file that others could have read too.

    A token readable by the group or the world may already be known to other users of the
    cluster, who could then report forged frames for this job.
    """
    token = _read_private(path, "token file")
    if token is None:
        raise ConfigError("token file %s does not exist" % path)
    if not token:
        raise ConfigError("token file %s is empty" % path)
    return token


def read_log_credential(path: str) -> Optional[str]:
    """The log credential, or None when the worker wrote none (an API without the log
    server's key); refused, as the token is, when others could have read it: with it they
    could write this job's log records."""
    return _read_private(path, "log credential file") or None


def _read_private(path: str, what: str) -> Optional[str]:
    """The stripped text of a file readable by its owner only; None if it does not exist."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigError(
            "%s %s has mode %04o: it must be readable by its owner only "
            "(chmod 600 %s)" % (what, path, mode, path))
    with open(path, encoding="ascii") as handle:
        return handle.read().strip()


def _renderer_commands(options: List[str], env_json: Optional[str]) -> Dict[str, List[str]]:
    commands: Dict[str, List[str]] = {}
    if env_json:
        try:
            loaded = json.loads(env_json)
        except ValueError as error:
            raise ConfigError("RAYCRAFTER_RENDERER_COMMANDS is not JSON: %s" % error) from None
        if not isinstance(loaded, dict):
            raise ConfigError("RAYCRAFTER_RENDERER_COMMANDS must be a JSON object NAME -> list")
        commands.update(loaded)
    for option in options:
        name, sep, template = option.partition("=")
        if not sep or not name:
            raise ConfigError("--renderer-command wants NAME=JSON, not %r" % option)
        try:
            commands[name] = json.loads(template)
        except ValueError as error:
            raise ConfigError("--renderer-command %s: not JSON: %s" % (name, error)) from None
    if "povray" in commands:
        raise ConfigError("the name povray is taken by the built-in POV-Ray renderer")
    for name, template in commands.items():
        try:
            CommandRenderer.check_template(template)
        except ValueError as error:
            raise ConfigError("renderer command %s: %s" % (name, error)) from None
    return commands


def _log_server(args: argparse.Namespace, job_dir: str) -> Optional[LogServer]:
    if not args.log_host:
        return None
    if not 0 < args.log_port < 65536:
        raise ConfigError("--log-port must be a TCP port number")
    credential_file = args.log_credential_file or os.path.join(job_dir, LOG_CREDENTIAL_FILE)
    return LogServer(
        host=args.log_host,
        port=args.log_port,
        tls=args.log_tls,
        ca_file=_existing_file(args.log_ca_file, "--log-ca-file"),
        server_name=args.log_server_name or args.log_host,
        credential_file=credential_file,
        credential=read_log_credential(credential_file),
    )
