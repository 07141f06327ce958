"""Configuration: one TOML file (written by Salt, mode 0600: it holds the credential key),
loaded once and checked before anything listens."""
import dataclasses
import ipaddress
import os
from typing import Optional, Tuple

from raycrafter_contract.log_credentials import MIN_KEY_CHARS
from raycrafter_contract.utilities.toml_file import read_toml


class ConfigError(Exception):
    """The file is missing, unreadable or wrong; the message names the key."""


@dataclasses.dataclass(frozen=True)
class Listener:
    """An address and port to take GELF on: TLS when a certificate and its key are given."""

    address: str
    port: int
    certificate_file: Optional[str] = None
    key_file: Optional[str] = None

    @property
    def tls(self) -> bool:
        return self.certificate_file is not None


@dataclasses.dataclass(frozen=True)
class Config:
    records_file: str
    credential_key: str = dataclasses.field(repr=False)
    listeners: Tuple[Listener, ...]
    # The longest record taken; a longer one is skipped unread up to its end.
    max_record_bytes: int = 65536
    # What one credential (the node agents of one batch job) may send: a sustained rate
    # and a burst, in records and in bytes. A sender over them is read more slowly.
    records_per_second: float = 1000.0
    burst_records: int = 20000
    bytes_per_second: float = 2 * 1024 * 1024
    burst_bytes: int = 64 * 1024 * 1024
    max_connections: int = 1024
    max_connections_per_address: int = 64
    # A connection that sends nothing this long is closed (node agents reconnect at once).
    idle_seconds: float = 300.0
    # How often counts of what was written and refused go to the log, when there are any.
    report_seconds: float = 60.0
    # The records file is rotated at this size, and of the rotated files the newest
    # keep_files younger than keep_days are kept (records.RecordsFile).
    rotate_bytes: int = 64 * 1024 * 1024
    keep_files: int = 16
    keep_days: float = 30.0
    # The search port (search_service.py): where raycrafter-admin logs asks, with this
    # token; none without search_listeners.
    search_token: str = dataclasses.field(default="", repr=False)
    search_listeners: Tuple[Listener, ...] = ()
    max_searches: int = 8

    @property
    def key(self) -> bytes:
        return self.credential_key.encode("utf-8")


_INTS = ("max_record_bytes", "burst_records", "burst_bytes", "max_connections",
         "max_connections_per_address", "rotate_bytes", "keep_files", "max_searches")
_NUMBERS = ("records_per_second", "bytes_per_second", "idle_seconds", "report_seconds",
            "keep_days")


def load(path: str) -> Config:
    return from_dict(read_toml(path, ConfigError))


def from_dict(raw: dict) -> Config:
    known = {field.name for field in dataclasses.fields(Config)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown config keys: {', '.join(unknown)}")
    values = dict(raw)
    for key in ("records_file", "credential_key"):
        if not isinstance(values.get(key), str) or not values[key]:
            raise ConfigError(f"config key {key!r} is required (a string)")
    if not os.path.isabs(values["records_file"]):
        raise ConfigError("config key 'records_file' must be an absolute path")
    if len(values["credential_key"]) < MIN_KEY_CHARS:
        raise ConfigError(f"config key 'credential_key' must be at least {MIN_KEY_CHARS} "
                          f"characters (the secret the API signs log credentials with)")
    for key in _INTS:
        if key in values and (isinstance(values[key], bool)
                              or not isinstance(values[key], int) or values[key] < 1):
            raise ConfigError(f"config key {key!r} must be a positive integer")
    for key in _NUMBERS:
        if key in values:
            if isinstance(values[key], bool) or not isinstance(values[key], (int, float)) \
                    or values[key] <= 0:
                raise ConfigError(f"config key {key!r} must be a positive number")
            values[key] = float(values[key])
    values["listeners"] = _listeners(values.get("listeners"), "listeners")
    if "search_listeners" in values:
        values["search_listeners"] = _listeners(values["search_listeners"], "search_listeners")
        token = values.get("search_token")
        if not isinstance(token, str) or len(token) < MIN_KEY_CHARS:
            raise ConfigError(f"config key 'search_token' must be at least {MIN_KEY_CHARS} "
                              f"characters (the token raycrafter-admin logs searches with)")
    return Config(**values)


def _listeners(tables, key: str) -> Tuple[Listener, ...]:
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"config key {key!r} must be a list of tables "
                          f"([[{key}]] address, port, certificate_file, key_file)")
    listeners = []
    for number, table in enumerate(tables, 1):
        where = f"{key} #{number}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = sorted(set(table) - {f.name for f in dataclasses.fields(Listener)})
        if unknown:
            raise ConfigError(f"{where}: unknown keys {', '.join(unknown)}")
        try:
            ipaddress.ip_address(table.get("address"))
        except ValueError:
            raise ConfigError(f"{where}: 'address' must be an IP address") from None
        port = table.get("port")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(f"{where}: 'port' must be a TCP port number")
        files = [table.get("certificate_file"), table.get("key_file")]
        if (files[0] is None) != (files[1] is None):
            raise ConfigError(f"{where}: TLS needs both 'certificate_file' and 'key_file'")
        for name, path in zip(("certificate_file", "key_file"), files):
            if path is not None and not (isinstance(path, str) and os.path.isfile(path)):
                raise ConfigError(f"{where}: {name} {path!r} is not a file")
        listeners.append(Listener(**table))
    return tuple(listeners)
