"""Reading a service's TOML configuration file, with the two errors every service gives
in the same words. The services run on the appliance's own Python (3.11, tomllib); the
node agent, which may run on an older one, reads no TOML and never imports this."""
import tomllib


def read_toml(path, error):
    """The table in the TOML file at ``path``; ``error`` (an exception class) is raised
    with a message naming the file when it cannot be read or parsed."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as failure:
        raise error(f"cannot read config file {path}: {failure.strerror}") from None
    except tomllib.TOMLDecodeError as failure:
        raise error(f"config file {path} is not valid TOML: {failure}") from None
