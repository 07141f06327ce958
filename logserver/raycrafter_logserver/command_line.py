"""The start the log server's programs share: `PROGRAM --config FILE`, logging to stderr,
and the file read and checked before anything else runs."""
import argparse
import logging
import sys
from typing import Callable, List, Optional, TypeVar

from .config import ConfigError

Config = TypeVar("Config")


def configuration(program: str, description: str, load: Callable[[str], Config],
                  argv: Optional[List[str]]) -> Optional[Config]:
    """The configuration named by ``--config``, loaded with ``load``; None once the reason
    it is wrong has been printed (the program then exits with status 2)."""
    parser = argparse.ArgumentParser(prog=program, description=description)
    parser.add_argument("--config", required=True, help="the TOML configuration file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return load(args.config)
    except ConfigError as error:
        print(f"{program}: {error}", file=sys.stderr)
        return None
