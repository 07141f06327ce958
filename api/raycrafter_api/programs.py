"""How the API's long-running programs besides the web app run (``raycrafter-relay``,
``raycrafter-notifier``): their one option, their logging, their configuration and a
schema at the version the code needs, rounds that ride out a database outage, and a stop
on SIGTERM or SIGINT."""
import argparse
import logging
import signal
import sys

import peewee
from raycrafter_contract.utilities.backoff import Backoff

from . import config as config_module
from . import job_records
from .database import db, migrations

MAX_DATABASE_BACKOFF = 30.0


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
    job_records.ship(config, prog)
    return config


def stop_on_signals(stopping):
    """Set the event ``stopping`` on SIGTERM (Supervisor's stop) and SIGINT."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())


def run_rounds(log, stopping, one_round, pause):
    """``one_round()`` and then ``pause(its result)``, until ``stopping`` is set; while the
    database cannot be reached, the next round comes after a backoff."""
    backoff = Backoff(first=2.0, cap=MAX_DATABASE_BACKOFF)
    while not stopping.is_set():
        try:
            result = one_round()
            backoff.reset()
        except (peewee.OperationalError, peewee.InterfaceError) as error:
            delay = backoff.next_delay()
            log.warning("database unavailable (%s); retrying in %.0f s", error, delay)
            stopping.wait(delay)
            continue
        pause(result)
