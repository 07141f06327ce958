"""How the API's long-running programs besides the web app start (``raycrafter-relay``,
``raycrafter-notifier``): their one option, their logging, their configuration and a
schema at the version the code needs, and a stop on SIGTERM or SIGINT."""
import argparse
import logging
import signal
import sys

from . import config as config_module
from .database import db, migrations


def configured(prog, description, argv):
    """The program's configuration, its database bound; None once it said on stderr why it
    cannot start."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", help=f"TOML config file (default: ${config_module.ENV_VAR})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = (config_module.load(args.config) if args.config
                  else config_module.load_from_env())
        db.bind(config.database_url)
        with db.connection():
            migrations.check_current()
    except (config_module.ConfigError, migrations.SchemaOutdated) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return None
    return config


def stop_on_signals(stopping):
    """Set the event ``stopping`` on SIGTERM (Supervisor's stop) and SIGINT."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
