"""Configuration: one TOML file, loaded once, validated, immutable afterwards."""
import dataclasses
import ipaddress
import os

from raycrafter_contract import job_logging, messaging
from raycrafter_contract.log_credentials import MIN_KEY_CHARS
from raycrafter_contract.naming import MAX_CLAIM_FRAMES, OPEN_CLUSTER
from raycrafter_contract.scenes import SceneLimits
from raycrafter_contract.states import AWAITING_WORKER
from raycrafter_contract.utilities import consul_catalog, metrics_endpoint
from raycrafter_contract.utilities.toml_file import read_toml

ENV_VAR = "RAYCRAFTER_API_CONFIG"


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid."""


@dataclasses.dataclass(frozen=True)
class Config:
    database_url: str
    data_dir: str
    amqp_url: str = ""
    # The CA that an amqps:// broker's certificate must chain to (the system's store if empty).
    amqp_ca_file: str = ""
    exchange: str = messaging.EXCHANGE
    max_upload_bytes: int = 512 * 1024 * 1024
    max_archive_members: int = SceneLimits.max_members
    max_archive_bytes: int = SceneLimits.max_bytes
    max_frames_per_job: int = 10_000
    lease_seconds: int = 300
    max_attempts: int = 3
    max_submissions: int = 3
    default_cluster: str = "default"
    clusters: tuple = ("default",)
    # Clusters reached in pull mode: their site agents ask for their commands over HTTPS
    # (routes_site.py), so the relay publishes none of them. With any, a job may also
    # leave its cluster open (OPEN_CLUSTER) for one of them to take.
    pull_clusters: tuple = ()
    reconcile_after_seconds: dict = dataclasses.field(
        default_factory=lambda: {"pending": 300, "staging": 900, "collecting": 900})
    reconcile_interval_seconds: float = 30.0
    relay_poll_seconds: float = 1.0
    # A claim leases a run of consecutive frames sized from the job's render times so far
    # to take about this long (one POV-Ray process renders the run), at most this many.
    chunk_target_seconds: float = 20.0
    max_chunk_frames: int = 50
    # The key the log server checks node agents' log credentials with (shared with the
    # logging role; raycrafter_contract.log_credentials), and how long a credential lasts:
    # longer than a batch job may wait in its queue and run. No key, no credentials.
    log_credential_key: str = ""
    log_credential_seconds: int = 14 * 86400
    # Where the API's own programs send their records about jobs (HOST:PORT of the logging
    # role's GELF port; none if empty), over TLS verified with this CA when one is given
    # (raycrafter_contract.job_logging). They need the key above to sign their credential.
    log_server: str = ""
    log_server_ca_file: str = ""
    # Where a site runs Consul: the local agent, and which of the URLs above take their host
    # and port from a healthy instance of which service, once at start.
    consul_agent: str = ""
    consul_services: dict = dataclasses.field(default_factory=dict)
    # Where the API's processes (all on one address) and the relay serve Prometheus
    # metrics (HOST:PORT; none if empty), over TLS with this certificate and key if set.
    metrics_listen: str = ""
    relay_metrics_listen: str = ""
    metrics_tls_certificate: str = ""
    metrics_tls_key: str = ""
    # The monitoring role's Prometheus, which the operator's page asks (none if empty), the
    # CA its certificate must chain to (the system's store if empty), how long the page's
    # queries may take together and how long their answer is kept.
    prometheus_url: str = ""
    prometheus_ca_file: str = ""
    prometheus_timeout_seconds: float = 3.0
    prometheus_cache_seconds: float = 5.0
    # Word when a job ends (notify/): webhooks go only to public addresses, but to those in
    # these networks (CIDR) the operator allows; e-mail goes to the MTA at smtp_host and
    # smtp_port, from mail_from. A delivery that keeps failing is given up after
    # notify_retry_seconds.
    notify_allowed_networks: tuple = ()
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    mail_from: str = "raycrafter@localhost"
    notify_retry_seconds: int = 86400
    notify_poll_seconds: float = 2.0
    notify_timeout_seconds: float = 10.0

    @property
    def scene_limits(self):
        return SceneLimits(max_members=self.max_archive_members,
                           max_bytes=self.max_archive_bytes)

    @property
    def job_clusters(self):
        """What a job may name as its cluster: a profile, or none yet while a site agent
        may take it."""
        return self.clusters + ((OPEN_CLUSTER,) if self.pull_clusters else ())

    @property
    def clusters_not_on_the_broker(self):
        """Clusters whose commands stay in the outbox for their site agents."""
        return self.pull_clusters + (OPEN_CLUSTER,)


_INT_KEYS = ("max_upload_bytes", "max_archive_members", "max_archive_bytes",
             "max_frames_per_job", "lease_seconds", "max_attempts", "max_submissions",
             "max_chunk_frames", "log_credential_seconds", "smtp_port",
             "notify_retry_seconds")
_FLOAT_KEYS = ("reconcile_interval_seconds", "relay_poll_seconds", "chunk_target_seconds",
               "notify_poll_seconds", "notify_timeout_seconds", "prometheus_timeout_seconds",
               "prometheus_cache_seconds")
_STR_KEYS = ("database_url", "data_dir", "amqp_url", "amqp_ca_file", "exchange",
             "default_cluster", "consul_agent", "log_credential_key", "metrics_listen",
             "relay_metrics_listen", "metrics_tls_certificate", "metrics_tls_key", "smtp_host",
             "mail_from", "prometheus_url", "prometheus_ca_file", "log_server",
             "log_server_ca_file")


def load(path):
    """Read and validate the TOML file at ``path``."""
    return from_dict(read_toml(path, ConfigError))


def load_from_env():
    path = os.environ.get(ENV_VAR)
    if not path:
        raise ConfigError(f"set {ENV_VAR} to the path of the API's TOML config file")
    return load(path)


def from_dict(raw):
    """Build a Config from a plain dict (as parsed from TOML), rejecting unknown keys."""
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown config keys: {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(known))})")
    for key in ("database_url", "data_dir"):
        if not raw.get(key):
            raise ConfigError(f"config key {key!r} is required")
    values = dict(raw)
    for key in _STR_KEYS:
        if key in values and not isinstance(values[key], str):
            raise ConfigError(f"config key {key!r} must be a string")
    for key in _INT_KEYS:
        if key in values and (isinstance(values[key], bool)
                              or not isinstance(values[key], int) or values[key] < 1):
            raise ConfigError(f"config key {key!r} must be a positive integer")
    for key in _FLOAT_KEYS:
        if key in values and (isinstance(values[key], bool)
                              or not isinstance(values[key], (int, float)) or values[key] <= 0):
            raise ConfigError(f"config key {key!r} must be a positive number")
        elif key in values:
            values[key] = float(values[key])
    if "clusters" in values:
        values["clusters"] = _names(values["clusters"], "clusters", empty=False)
    if "pull_clusters" in values:
        values["pull_clusters"] = _names(values["pull_clusters"], "pull_clusters", empty=True)
    if "notify_allowed_networks" in values:
        values["notify_allowed_networks"] = _networks(values["notify_allowed_networks"])
    if values.get("consul_agent"):
        values = _resolved_in_consul(values)
    if "reconcile_after_seconds" in values:
        values["reconcile_after_seconds"] = _reconcile_deadlines(values["reconcile_after_seconds"])
    config = Config(**values)
    if config.max_chunk_frames > MAX_CLAIM_FRAMES:
        raise ConfigError(f"config key 'max_chunk_frames' must be at most {MAX_CLAIM_FRAMES}, "
                          f"the most frames one claim may ask for")
    for key in ("metrics_listen", "relay_metrics_listen"):
        address = getattr(config, key)
        if address and not metrics_endpoint.is_listen_address(address):
            raise ConfigError(f"config key {key!r} must be HOST:PORT (an empty host: every "
                              f"address), not {address!r}")
    if bool(config.metrics_tls_certificate) != bool(config.metrics_tls_key):
        raise ConfigError("config keys 'metrics_tls_certificate' and 'metrics_tls_key' go "
                          "together")
    if config.prometheus_url and not config.prometheus_url.startswith(("http://", "https://")):
        raise ConfigError(f"config key 'prometheus_url' must start with http:// or https://, "
                          f"not {config.prometheus_url!r}")
    if config.log_credential_key and len(config.log_credential_key) < MIN_KEY_CHARS:
        raise ConfigError(f"config key 'log_credential_key' must be at least {MIN_KEY_CHARS} "
                          f"characters (a secret of 256 bits, as Salt generates)")
    if config.log_server:
        try:
            job_logging.log_server_address(config.log_server)
        except ValueError as error:
            raise ConfigError(f"config key 'log_server': {error}") from None
    if OPEN_CLUSTER in config.clusters:
        raise ConfigError(f"config key 'clusters': {OPEN_CLUSTER!r} names a job's open "
                          f"cluster, not a cluster profile")
    if config.default_cluster not in config.job_clusters:
        raise ConfigError(f"default_cluster {config.default_cluster!r} is not in clusters "
                          f"{list(config.clusters)}")
    strays = sorted(set(config.pull_clusters) - set(config.clusters))
    if strays:
        raise ConfigError(f"pull_clusters {strays} are not in clusters {list(config.clusters)}")
    if not (config.database_url.startswith("sqlite:///")
            or config.database_url.startswith("postgresql://")):
        raise ConfigError("database_url must start with sqlite:/// or postgresql://")
    return config


def _names(names, key, empty):
    if (not isinstance(names, (list, tuple)) or not (names or empty)
            or not all(isinstance(name, str) and name for name in names)):
        raise ConfigError(f"config key {key!r} must be a {'' if empty else 'non-empty '}"
                          f"list of names")
    return tuple(names)


def _networks(networks):
    """The networks webhooks may reach besides public addresses, as ip_network objects."""
    if not isinstance(networks, (list, tuple)):
        raise ConfigError("config key 'notify_allowed_networks' must be a list of networks "
                          "(CIDR, e.g. 10.20.0.0/16)")
    try:
        return tuple(ipaddress.ip_network(network) for network in networks)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"config key 'notify_allowed_networks': {error}") from None


def _resolved_in_consul(values):
    try:
        return consul_catalog.resolve(values, values.get("consul_services", {}),
                                      values["consul_agent"], ("database_url", "amqp_url"))
    except consul_catalog.ConsulLookupError as error:
        raise ConfigError(str(error)) from None


def _reconcile_deadlines(table):
    if not isinstance(table, dict):
        raise ConfigError("config key 'reconcile_after_seconds' must be a table")
    deadlines = Config.__dataclass_fields__["reconcile_after_seconds"].default_factory()
    for state, seconds in table.items():
        if state not in AWAITING_WORKER:
            raise ConfigError(f"reconcile_after_seconds: unknown state {state!r} "
                              f"(known: {', '.join(AWAITING_WORKER)})")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
            raise ConfigError(f"reconcile_after_seconds.{state} must be a positive number")
        deadlines[state] = seconds
    return deadlines
