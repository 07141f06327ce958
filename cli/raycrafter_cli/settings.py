"""Where the API is and how to reach it: the environment first, then the config file
``~/.config/raycrafter/client.toml`` (``$XDG_CONFIG_HOME/raycrafter/client.toml``).

Every setting is taken from the first place that has it; a token in the file, or in the
file's ``token_file``, is refused while group or others may read it (as ssh does with
private keys).
"""
import dataclasses
import os
import stat
import tomllib
import urllib.parse

from raycrafter_contract.addresses import token_may_go_to
from raycrafter_contract.wire.endpoints import API_PATH

from . import exit_codes
from .errors import CliError

ENV_URL = "RAYCRAFTER_URL"
ENV_TOKEN = "RAYCRAFTER_TOKEN"
ENV_CA = "RAYCRAFTER_CA"
ENV_POLL = "RAYCRAFTER_POLL_SECONDS"
FILE_KEYS = ("url", "token", "token_file", "ca_file")
DEFAULT_POLL_SECONDS = 2.0


class SettingsError(CliError):
    def __init__(self, message):
        super().__init__(message, exit_codes.USAGE)


@dataclasses.dataclass(frozen=True)
class Settings:
    api_url: str  # always ends in /api/v1
    token: str
    ca_file: str | None
    poll_seconds: float


def config_path():
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"),
                                                             ".config")
    return os.path.join(base, "raycrafter", "client.toml")


def load():
    """The settings from the environment and the config file, or SettingsError."""
    path = config_path()
    values = _read_config(path)
    in_file = f"in {path}"
    url = _first((os.environ.get(ENV_URL), ENV_URL), (values.get("url"), f"`url` {in_file}"))
    if url is None:
        raise SettingsError(f"no API address: set {ENV_URL} (e.g. https://raycrafter.example.org)"
                            f" or `url` {in_file}")
    token = os.environ.get(ENV_TOKEN) or values.get("token") or _read_token_file(values, path)
    if not token:
        raise SettingsError(f"no API token: set {ENV_TOKEN}, or `token_file` or `token` "
                            f"{in_file}; an administrator creates one with "
                            f"`raycrafter-admin user add NAME`")
    ca_file = _first((os.environ.get(ENV_CA), ENV_CA),
                     (_file_path(values, "ca_file", path), f"`ca_file` {in_file}"))
    if ca_file is not None and not os.path.isfile(ca_file[0]):
        raise SettingsError(f"{ca_file[1]}: CA file {ca_file[0]} does not exist")
    return Settings(api_url=api_url(*url), token=_checked_token(token.strip()),
                    ca_file=ca_file[0] if ca_file else None, poll_seconds=_poll_seconds())


def _first(*candidates):
    """The first (value, where it came from) whose value is set, or None."""
    return next(((value, source) for value, source in candidates if value), None)


def _read_config(path):
    try:
        with open(path, "rb") as f:
            values = tomllib.load(f)
            mode = os.fstat(f.fileno()).st_mode
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise SettingsError(f"cannot read {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path} is not valid TOML: {error}") from None
    unknown = sorted(set(values) - set(FILE_KEYS))
    if unknown:
        raise SettingsError(f"{path}: unknown key(s) {', '.join(unknown)} "
                            f"(allowed: {', '.join(FILE_KEYS)})")
    for key, value in values.items():
        if not isinstance(value, str):
            raise SettingsError(f"{path}: `{key}` must be a string")
    if "token" in values and "token_file" in values:
        raise SettingsError(f"{path}: set `token` or `token_file`, not both")
    if "token" in values:
        _refuse_if_exposed(path, mode, "holds a token")
    return values


def _file_path(values, key, config):
    """A path from the config file; relative paths are relative to the file's folder."""
    if not values.get(key):
        return None
    return os.path.join(os.path.dirname(config), os.path.expanduser(values[key]))


def _read_token_file(values, config):
    path = _file_path(values, "token_file", config)
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read()
            mode = os.fstat(f.fileno()).st_mode
    except OSError as error:
        raise SettingsError(f"cannot read the token file {path} (`token_file` in {config}): "
                            f"{error.strerror}") from None
    _refuse_if_exposed(path, mode, "is a token file")
    return token


def _refuse_if_exposed(path, mode, what):
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SettingsError(f"{path} {what} but is accessible by group or others "
                            f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}")


def _checked_token(token):
    # The token goes into an HTTP header: anything else there would break the request.
    if not token.isprintable() or any(c.isspace() for c in token):
        raise SettingsError("the API token holds spaces or control characters")
    return token


def api_url(url, source):
    """The API's base URL from the appliance's address; ``/api/v1`` may be given or not."""
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise SettingsError(f"{source}: {url!r} is not an http(s) address such as "
                            f"https://raycrafter.example.org")
    if parsed.query or parsed.fragment:
        raise SettingsError(f"{source}: {url!r} must not have a query or fragment")
    path = parsed.path.rstrip("/")
    if not path.endswith(API_PATH):
        path += API_PATH
    return urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, path, "", ""))


def _poll_seconds():
    text = os.environ.get(ENV_POLL)
    if not text:
        return DEFAULT_POLL_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0
    if not seconds > 0:
        raise SettingsError(f"{ENV_POLL} must be a positive number of seconds, not {text!r}")
    return seconds


def cleartext_warning(settings):
    """A warning when the token would cross the network unencrypted, else None."""
    if token_may_go_to(settings.api_url):
        return None
    parsed = urllib.parse.urlsplit(settings.api_url)
    return (f"warning: {parsed.scheme}://{parsed.netloc} is not HTTPS; "
            f"your token crosses the network unencrypted")

