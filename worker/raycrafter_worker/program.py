"""What the worker's two programs (raycrafter-worker, raycrafter-siteagent) share on
their command line: ``--config`` (or an environment variable), ``--check``,
``--log-level``, and a configuration that is read once at start and named in the message
when it is bad (exit status 2)."""
import argparse
import logging
import os
import sys

from .errors import ConfigError


def configured(prog, description, config_env, check_help, load, argv):
    """(arguments, configuration); the configuration is None after its error was printed."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", default=os.environ.get(config_env),
                        help=f"the TOML configuration [{config_env}]")
    parser.add_argument("--check", action="store_true", help=check_help)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    logging.getLogger("pika").setLevel(logging.WARNING)
    if not args.config:
        parser.error(f"--config (or {config_env}) is required")
    try:
        return args, load(args.config)
    except ConfigError as error:
        print(f"{prog}: {args.config}: {error}", file=sys.stderr)
        return args, None
