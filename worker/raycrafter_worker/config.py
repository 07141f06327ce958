"""The worker's one configuration file (TOML, written by Salt, mode 0600).

Everything is checked once at start-up, so a bad profile stops the worker with a message
that names the profile and the key instead of failing the first job that uses it.
"""
import dataclasses
import os
import pwd
import re
import urllib.parse

from raycrafter_contract import job_logging, messaging
from raycrafter_contract.naming import batch_name_pattern
from raycrafter_contract.scenes import SceneLimits
from raycrafter_contract.utilities import consul_catalog, metrics_endpoint
from raycrafter_contract.utilities.toml_file import read_toml

from .errors import ConfigError
from .schedulers import ADAPTERS

SCHEDULERS = tuple(ADAPTERS)
# What "pbs" meant before the PBS family had an adapter per batch system.
_SPLIT_SCHEDULER = ("scheduler 'pbs' now names its batch system: pbspro (PBS Professional, "
                    "OpenPBS), torque, or pbs-wrappers (Slurm's qsub/qstat/qdel wrappers, "
                    "what 'pbs' meant before)")
LAUNCHERS = ("aprun", "srun")
TRANSFERS = ("gridftp", "sftp")
# How the appliance reaches a cluster: the worker over SSH, or a site agent on its login
# node that asks the API for the cluster's work (site_agent.py).
ACCESS = ("ssh", "pull")
# What only a login over SSH needs.
_SSH_KEYS = ("login_host", "user", "key_file", "known_hosts_file")
_WALLTIME = re.compile(r"^(\d+:)?\d{1,2}:\d{2}:\d{2}$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9_./-]*$")
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HOST = re.compile(r"^[A-Za-z0-9_.:-]+$")
# What each renderer process on the cluster may use: profile key ``renderer_NAME``, handed
# to the node agent as ``--NAME`` (docs/nodeagent.md); 0 leaves the agent's own default.
RENDERER_LIMITS = ("max_file_bytes", "max_memory_bytes", "max_cpu_seconds",
                   "max_work_dir_bytes", "output_lines", "output_bytes")


@dataclasses.dataclass(frozen=True)
class ClusterProfile:
    """How to reach one cluster and how to run a job on it."""

    name: str
    access: str
    login_host: str
    port: int
    user: str
    key_file: str
    known_hosts_file: str
    scheduler: str
    scheduler_bin_dir: str
    launcher: str
    queue: str
    account: str
    walltime: str
    nodes: int
    cores_per_node: int
    max_queued_jobs: int
    scratch: str
    setup: tuple
    nodeagent: str
    agent_api_url: str
    agent_ca_file: str
    log_host: str
    log_port: int
    log_tls: bool
    log_ca_file: str
    transfer: str
    streams: bool
    login_python: str
    gridftp_host: str
    gridftp_server: str
    command_timeout_seconds: float
    batch_prefix: str
    allow_unconfined: bool
    gateway_host: str
    gateway_port: int
    gateway_log_port: int
    gateway_source_address: str
    gateway_program: str
    renderer_limits: dict  # name in RENDERER_LIMITS -> value, the ones the profile sets

    def batch_name(self, api_batch_name):
        """The scheduler's name for an attempt: the API's ``rc-JOB-aN`` behind the
        deployment's prefix, so appliances sharing a cluster account never see each
        other's jobs as their own."""
        return self.batch_prefix + api_batch_name

    def is_our_batch_name(self, name):
        """Whether a batch job of this name belongs to this appliance (any job, any
        attempt): what a queue limit counts."""
        return batch_name_pattern(None, self.batch_prefix).match(name) is not None

    @property
    def jobs_root(self):
        """Every job of this appliance lives below SCRATCH/raycrafter (docs/protocol.md)."""
        return self.scratch.rstrip("/") + "/raycrafter"

    def job_dir(self, job_id):
        return f"{self.jobs_root}/{int(job_id)}"


class _SceneLimited:
    @property
    def scene_limits(self):
        """The API's limits too: both read them from the same pillar key."""
        return SceneLimits(max_members=self.max_archive_members,
                           max_bytes=self.max_archive_bytes)


@dataclasses.dataclass(frozen=True)
class Config(_SceneLimited):
    api_url: str
    api_token_file: str
    ca_file: str
    amqp_url: str
    exchange: str
    queue: str
    poll_interval_seconds: float
    prefetch: int
    lost_grace_seconds: float
    retry_limit_seconds: float
    stage_in_disk_wait_seconds: float
    max_archive_members: int
    max_archive_bytes: int
    log_server: str
    log_server_ca_file: str
    clusters: dict
    # Where the worker's processes (all on one address) serve Prometheus metrics
    # (HOST:PORT; none if empty), over TLS with this certificate and key if set.
    metrics_listen: str
    metrics_tls_certificate: str
    metrics_tls_key: str


@dataclasses.dataclass(frozen=True)
class SiteConfig(_SceneLimited):
    """The site agent's (site_agent.py): the API, and the one cluster it serves."""

    api_url: str
    api_token_file: str
    ca_file: str
    poll_interval_seconds: float
    command_poll_seconds: float
    prefetch: int
    lost_grace_seconds: float
    retry_limit_seconds: float
    stage_in_disk_wait_seconds: float
    open_jobs: int
    lock_file: str
    max_archive_members: int
    max_archive_bytes: int
    log_server: str
    log_server_ca_file: str
    cluster: ClusterProfile


_PROFILE_KEYS = {
    # key: (type, required, default)
    "access": (str, False, "ssh"),
    # Required with access ssh (_SSH_KEYS).
    "login_host": (str, False, ""),
    "port": (int, False, 22),
    "user": (str, False, ""),
    "key_file": (str, False, ""),
    "known_hosts_file": (str, False, ""),
    "scheduler": (str, True, None),
    "scheduler_bin_dir": (str, False, ""),
    "launcher": (str, True, None),
    "queue": (str, False, ""),
    "account": (str, False, ""),
    "walltime": (str, False, "01:00:00"),
    "nodes": (int, False, 1),
    "cores_per_node": (int, False, 0),
    "max_queued_jobs": (int, False, 0),
    "scratch": (str, True, None),
    "setup": (list, False, []),
    "nodeagent": (str, True, None),
    "agent_api_url": (str, True, None),
    "agent_ca_file": (str, False, ""),
    "log_host": (str, False, ""),
    "log_port": (int, False, 12201),
    "log_tls": (bool, False, False),
    "log_ca_file": (str, False, ""),
    "transfer": (str, False, "gridftp"),
    # Whether the login node may run tar and the worker's scene receiver on the worker's
    # SSH connection: files then travel as one stream each way (staging.py).
    "streams": (bool, False, True),
    "login_python": (str, False, "python3"),
    "gridftp_host": (str, False, ""),
    "gridftp_server": (str, False, "/etc/grid-security/sshftp"),
    "command_timeout_seconds": (float, False, 120.0),
    "batch_prefix": (str, False, ""),
    "consul_services": (dict, False, {}),
    "allow_unconfined": (bool, False, False),
    # Compute nodes without a way out reach the API and the log server through a gateway
    # on the login node (gateway.py): where they reach it (empty: no gateway), its ports,
    # the login node's own address toward the API, and the program.
    "gateway_host": (str, False, ""),
    "gateway_port": (int, False, 18443),
    "gateway_log_port": (int, False, 18201),
    "gateway_source_address": (str, False, ""),
    "gateway_program": (str, False, ""),
    **{"renderer_" + name: (int, False, 0) for name in RENDERER_LIMITS},
}

# What the worker and the site agent both read.
_SHARED_KEYS = {
    "api_url": (str, True, None),
    "api_token_file": (str, True, None),
    "ca_file": (str, False, ""),
    "poll_interval_seconds": (float, False, 30.0),
    "prefetch": (int, False, 2),
    "lost_grace_seconds": (float, False, 600.0),
    "retry_limit_seconds": (float, False, 300.0),
    # How long a stage-in that finds no room for its scene is retried before the job
    # fails (handlers.py).
    "stage_in_disk_wait_seconds": (float, False, 6 * 3600.0),
    "max_archive_members": (int, False, SceneLimits.max_members),
    "max_archive_bytes": (int, False, SceneLimits.max_bytes),
    # Where its own records about jobs go (HOST:PORT of the log server's GELF port; none
    # if empty), over TLS verified with this CA when one is given; the API issues the
    # credential they go with (raycrafter_contract.job_logging).
    "log_server": (str, False, ""),
    "log_server_ca_file": (str, False, ""),
    "clusters": (dict, True, None),
}

_TOP_KEYS = {
    **_SHARED_KEYS,
    "amqp_url": (str, True, None),
    "exchange": (str, False, messaging.EXCHANGE),
    "queue": (str, False, messaging.QUEUE),
    "metrics_listen": (str, False, ""),
    "metrics_tls_certificate": (str, False, ""),
    "metrics_tls_key": (str, False, ""),
    # Where a site runs Consul: the local agent, and which settings take their address
    # from a healthy instance of which service, once at start
    # (raycrafter_contract.utilities.consul_catalog).
    "consul_agent": (str, False, ""),
    "consul_services": (dict, False, {}),
}


_SITE_KEYS = {
    **_SHARED_KEYS,
    # How often the API is asked for the cluster's commands (site_commands.py).
    "command_poll_seconds": (float, False, 5.0),
    # How many jobs left open (cluster "any") the cluster may hold waiting to be
    # submitted; 0: it takes none.
    "open_jobs": (int, False, 0),
    # Held (flock) while the site agent runs, so that one started again (by cron, say)
    # while it runs exits at once; empty: ~/.raycrafter-siteagent-CLUSTER.lock.
    "lock_file": (str, False, ""),
}


def load(path):
    """Read and check the worker's file at ``path``; raises ConfigError with a precise
    message."""
    return parse(_read(path))


def load_site(path):
    """Read and check the site agent's file at ``path``."""
    return parse_site(_read(path))


def _read(path):
    return read_toml(path, ConfigError)


def parse(raw):
    values = _typed(raw, _TOP_KEYS, "the configuration")
    agent = values.pop("consul_agent")
    values = _in_consul(values, values.pop("consul_services"), agent, "the configuration",
                        ("amqp_url", "api_url"))
    _check_url(values["api_url"], ("https", "http"), "api_url")
    _check_url(values["amqp_url"], ("amqps", "amqp"), "amqp_url")
    _check_file(values["api_token_file"], "api_token_file")
    if values["ca_file"]:
        _check_file(values["ca_file"], "ca_file")
    _check_log_server(values)
    for key in ("poll_interval_seconds", "stage_in_disk_wait_seconds"):
        if values[key] <= 0:
            raise ConfigError(f"{key} must be positive")
    if values["prefetch"] < 1:
        raise ConfigError("prefetch must be at least 1")
    _check_listen(values["metrics_listen"], "metrics_listen")
    if bool(values["metrics_tls_certificate"]) != bool(values["metrics_tls_key"]):
        raise ConfigError("metrics_tls_certificate and metrics_tls_key go together")
    for key in ("metrics_tls_certificate", "metrics_tls_key"):
        if values[key]:
            _check_file(values[key], key)
    if not values["clusters"]:
        raise ConfigError("[clusters] must hold at least one cluster profile")
    values["clusters"] = {name: parse_profile(name, body, agent)
                          for name, body in values["clusters"].items()}
    values["api_url"] = values["api_url"].rstrip("/")
    return Config(**values)


def parse_site(raw):
    values = _typed(raw, _SITE_KEYS, "the configuration")
    _check_url(values["api_url"], ("https", "http"), "api_url")
    _check_file(values["api_token_file"], "api_token_file")
    if values["ca_file"]:
        _check_file(values["ca_file"], "ca_file")
    _check_log_server(values)
    for key in ("poll_interval_seconds", "command_poll_seconds", "prefetch",
                "stage_in_disk_wait_seconds"):
        if values[key] <= 0:
            raise ConfigError(f"{key} must be positive")
    if values["open_jobs"] < 0:
        raise ConfigError("open_jobs must not be negative (0: take no open job)")
    clusters = values.pop("clusters")
    if len(clusters) != 1:
        raise ConfigError(f"[clusters] must hold exactly one cluster profile, the site "
                          f"agent's own, not {len(clusters)}")
    (name, body), = clusters.items()
    # The site agent is the cluster's user on its login node: whose jobs it lists and
    # counts (squeue --user, qselect -u) is its own account's.
    account = pwd.getpwuid(os.getuid()).pw_name
    if body.get("user", account) != account:
        raise ConfigError(f"cluster profile {name!r}: user is {body['user']!r}, but the "
                          f"site agent runs as {account!r}: run it as the cluster's user")
    profile = parse_profile(name, {**body, "user": account})
    if profile.access != "pull":
        raise ConfigError(f"cluster profile {name!r}: a site agent serves a profile with "
                          f"access = 'pull', not {profile.access!r}")
    values["api_url"] = values["api_url"].rstrip("/")
    values["lock_file"] = values["lock_file"] or os.path.expanduser(
        f"~/.raycrafter-siteagent-{name}.lock")
    return SiteConfig(cluster=profile, **values)


def _check_log_server(values):
    if values["log_server"]:
        try:
            job_logging.log_server_address(values["log_server"])
        except ValueError as error:
            raise ConfigError(f"log_server: {error}") from None
    if values["log_server_ca_file"]:
        _check_file(values["log_server_ca_file"], "log_server_ca_file")


def parse_profile(name, raw, consul_agent=""):
    if not _PROFILE_NAME.match(name):
        raise ConfigError(f"cluster profile name {name!r}: use letters, digits, - and _")
    where = f"cluster profile {name!r}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    if "gridftp_min_bytes" in raw:
        raise ConfigError(f"{where}: gridftp_min_bytes is no longer a setting: each batch "
                          f"goes the way measured to cost least on the cluster (streams and "
                          f"transfer say which ways the site permits); remove it")
    values = _typed(raw, _PROFILE_KEYS, where)
    # The login node, its log server and the API as compute nodes reach it; a node agent
    # is handed the addresses found here (compute nodes need no Consul agent).
    values = _in_consul(values, values.pop("consul_services"), consul_agent, where,
                        ("login_host", "log_host", "agent_api_url"),
                        {"login_host": "port", "log_host": "log_port"})
    if values["scheduler"] == "pbs":
        raise ConfigError(f"{where}: {_SPLIT_SCHEDULER}")
    for key, allowed in (("access", ACCESS), ("scheduler", SCHEDULERS),
                         ("launcher", LAUNCHERS), ("transfer", TRANSFERS)):
        if values[key] not in allowed:
            raise ConfigError(f"{where}: {key} must be one of {', '.join(allowed)}, "
                              f"not {values[key]!r}")
    if not values["login_python"].strip():
        raise ConfigError(f"{where}: login_python must name Python 3.8 or newer on the "
                          f"login node")
    ports = ("port", "log_port", "gateway_port", "gateway_log_port")
    if not all(0 < values[key] < 65536 for key in ports):
        raise ConfigError(f"{where}: {', '.join(ports)} must be between 1 and 65535")
    if not _WALLTIME.match(values["walltime"]):
        raise ConfigError(f"{where}: walltime must look like HH:MM:SS, not "
                          f"{values['walltime']!r}")
    if values["nodes"] < 1:
        raise ConfigError(f"{where}: nodes must be at least 1")
    for key in ("cores_per_node", "max_queued_jobs"):
        if values[key] < 0:
            raise ConfigError(f"{where}: {key} must not be negative (0: not set)")
    if values["launcher"] == "aprun" and not values["cores_per_node"]:
        raise ConfigError(f"{where}: launcher = 'aprun' needs cores_per_node (aprun -d: "
                          f"without it each node agent gets one core)")
    if values["scheduler_bin_dir"] and not _SAFE_PATH.match(values["scheduler_bin_dir"]):
        raise ConfigError(f"{where}: scheduler_bin_dir must be an absolute path of "
                          f"letters, digits and ._/- (or empty: the login shell's PATH)")
    for key in ("scratch", "nodeagent"):
        if not values[key].startswith("/"):
            raise ConfigError(f"{where}: {key} must be an absolute path on the cluster")
    if not _SAFE_PATH.match(values["scratch"]):
        raise ConfigError(f"{where}: scratch may hold only letters, digits and ._/-")
    if not re.match(r"^[A-Za-z0-9_.-]{0,32}$", values["batch_prefix"]):
        raise ConfigError(f"{where}: batch_prefix may hold up to 32 letters, digits, ._-")
    if not all(isinstance(line, str) for line in values["setup"]):
        raise ConfigError(f"{where}: setup must be a list of strings (shell lines)")
    _check_url(values["agent_api_url"], ("https", "http"), f"{where}: agent_api_url")
    _check_gateway(values, where)
    if values["access"] == "ssh":
        _check_ssh_login(values, where)
    values["setup"] = tuple(values["setup"])
    values["renderer_limits"] = _renderer_limits(values, where)
    return ClusterProfile(name=name, **values)


def _check_ssh_login(values, where):
    for key in _SSH_KEYS:
        if not values[key].strip():
            raise ConfigError(f"{where}: {key} is required")
    _check_file(values["key_file"], f"{where}: key_file")
    _check_file(values["known_hosts_file"], f"{where}: known_hosts_file")
    if values["transfer"] == "gridftp" and not values["gridftp_host"]:
        raise ConfigError(f"{where}: transfer = 'gridftp' needs gridftp_host (the ssh "
                          f"alias globus-url-copy connects to)")


def _check_gateway(values, where):
    """The gateway's addresses go onto command lines on the login node: host names and
    addresses only. Its program is the node agent's neighbour unless the profile says."""
    for key in ("gateway_host", "gateway_source_address"):
        if values[key] and not _HOST.match(values[key]):
            raise ConfigError(f"{where}: {key} must be a host name or an address, not "
                              f"{values[key]!r}")
    if values["gateway_host"] and values["log_host"] and not _HOST.match(values["log_host"]):
        raise ConfigError(f"{where}: log_host must be a host name or an address")
    program = values["gateway_program"] or \
        values["nodeagent"].rsplit("/", 1)[0] + "/raycrafter-gateway"
    if not program.startswith("/") or not _SAFE_PATH.match(program):
        raise ConfigError(f"{where}: gateway_program must be an absolute path of letters, "
                          f"digits and ._/-")
    values["gateway_program"] = program


def _renderer_limits(values, where):
    limits = {}
    for name in RENDERER_LIMITS:
        value = values.pop("renderer_" + name)
        if value < 0:
            raise ConfigError(f"{where}: renderer_{name} must not be negative (0: the node "
                              f"agent's default)")
        if value:
            limits[name] = value
    return limits


def _in_consul(values, services, agent, where, resolvable, port_keys=None):
    if not services:
        return values
    if not agent:
        raise ConfigError(f"{where}: consul_services needs consul_agent")
    try:
        return consul_catalog.resolve(values, services, agent, resolvable, port_keys)
    except consul_catalog.ConsulLookupError as error:
        raise ConfigError(f"{where}: {error}") from None


def _typed(raw, spec, where):
    unknown = sorted(set(raw) - set(spec))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    values = {}
    for key, (kind, required, default) in spec.items():
        if key not in raw:
            if required:
                raise ConfigError(f"{where}: {key} is required")
            values[key] = default
            continue
        value = raw[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: {key} must be of type {kind.__name__}")
        if kind is str and required and not value.strip():
            raise ConfigError(f"{where}: {key} must not be empty")
        values[key] = value
    return values


def _check_url(url, schemes, where):
    # The URL is not echoed: amqp_url carries the broker password.
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in schemes or not parsed.hostname:
        raise ConfigError(f"{where} must be a {' or '.join(schemes)} URL with a host name")


def _check_file(path, where):
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise ConfigError(f"{where}: {path} is not a readable file")


def _check_listen(address, where):
    if not address:
        return
    if not metrics_endpoint.is_listen_address(address):
        raise ConfigError(f"{where} must be HOST:PORT (an empty host: every address), "
                          f"not {address!r}")
