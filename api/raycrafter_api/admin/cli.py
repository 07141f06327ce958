"""``raycrafter-admin``: migrations, users and tokens, and the log server's records.

The ``ensure`` commands and ``migrate`` are idempotent and end with one line in Salt's
``stateful`` format (``changed=yes|no comment="..."``) so a ``cmd.run`` with
``stateful: True`` reports a change only when something changed.
"""
import argparse
import datetime
import re
import shlex
import sys

import peewee
from raycrafter_contract.log_search import add_query_options

from .. import auth, config as config_module, timeutil
from ..accounts import users
from ..database import db, migrations
from ..database.models import Token, User
from ..problems import Problem
from . import logs as log_search

_DURATION = re.compile(r"^([1-9][0-9]{0,5})([mhdw])$")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class CliError(Exception):
    """Bad input or state: printed to stderr, exit status 1."""


def _stateful(changed, comment):
    print(f"changed={'yes' if changed else 'no'} comment={shlex.quote(comment)}")


def _check_name(name):
    try:
        return users.check_name(name)
    except Problem as problem:
        raise CliError(problem.message.removeprefix("name: ")) from None


def _read_token_file(path):
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as error:
        raise CliError(f"cannot read token file {path}: {error.strerror}") from None
    try:
        auth.validate_token_text(token)
    except ValueError as error:
        raise CliError(f"token file {path}: {error}") from None
    return token


def _expiry(args):
    """When a new token stops working: ``--expires-in`` (30m, 12h, 90d, 2w) from now, or
    ``--expires-at`` (a UTC date or time in ISO 8601), or never."""
    now = timeutil.now()
    if args.expires_in:
        match = _DURATION.match(args.expires_in)
        if not match:
            raise CliError(f"--expires-in {args.expires_in!r}: a number and a unit, m, h, d "
                           f"or w (minutes, hours, days, weeks), e.g. 90d")
        return now + datetime.timedelta(**{_DURATION_UNITS[match.group(2)]:
                                           int(match.group(1))})
    if args.expires_at:
        try:
            moment = datetime.datetime.fromisoformat(args.expires_at.replace("Z", "+00:00"))
        except ValueError:
            raise CliError(f"--expires-at {args.expires_at!r}: a date or time in ISO 8601, "
                           f"e.g. 2027-01-31 or 2027-01-31T18:00:00Z") from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        if moment <= now:
            raise CliError(f"--expires-at {args.expires_at}: that is not in the future")
        return moment
    return None


def _expiry_text(token, now):
    if token.expires_at is None:
        return "never"
    return timeutil.iso(token.expires_at) + (" (expired)" if token.expires_at <= now else "")


def cmd_migrate(args):
    before = migrations.current_version()
    applied = migrations.migrate_to()
    if applied:
        _stateful(True, f"schema migrated from version {before} to {migrations.LATEST}")
    else:
        _stateful(False, f"unchanged: schema already at version {before}")


def cmd_user_add(args):
    name = _check_name(args.name)
    expires_at = _expiry(args)
    try:
        user, token = users.add_user(name, "admin" if args.admin else "user", expires_at)
    except Problem as problem:
        raise CliError(problem.message) from None
    _show_token(f"created {user.role} {name}", expires_at, token)


def _show_token(what, expires_at, token):
    until = f", valid until {timeutil.iso(expires_at)}" if expires_at else ""
    print(f"{what}; token{until} (shown once, keep it secret):", file=sys.stderr)
    print(token)


def cmd_user_list(args):
    print(f"{'id':>4}  {'name':<24} {'role':<6} {'tokens':>6}  {'created':<20}  disabled")
    for user in User.select().order_by(User.id):
        active = users.active_tokens().where(Token.user == user).count()
        disabled = timeutil.iso(user.disabled_at) if user.disabled_at else ""
        print(f"{user.id:>4}  {user.name:<24} {user.role:<6} {active:>6}  "
              f"{timeutil.iso(user.created_at):<20}  {disabled}".rstrip())


def cmd_user_disable(args):
    """Refuse every token of the user from now on; their jobs and tokens are kept, so
    `user enable` gives them back."""
    user = _existing_user(args.name)
    if user.disabled_at is None:
        User.update(disabled_at=timeutil.now()).where(User.id == user.id).execute()
    print(f"user {user.name} disabled: every token of theirs is refused (401 user_disabled)",
          file=sys.stderr)


def cmd_user_enable(args):
    user = _existing_user(args.name)
    User.update(disabled_at=None).where(User.id == user.id).execute()
    print(f"user {user.name} enabled", file=sys.stderr)


def _existing_user(name):
    user = User.get_or_none(User.name == _check_name(name))
    if user is None:
        raise CliError(f"no user {name!r} (raycrafter-admin user list names them)")
    return user


def cmd_token_create(args):
    name = _check_name(args.user)
    expires_at = _expiry(args)
    user = User.get_or_none(User.name == name)
    if user is None:
        raise CliError(f"no user {name!r}: create one with `user add {name}`")
    _, token = users.create_token(user.id, expires_at)
    _show_token(f"a new token for {name}", expires_at, token)


def cmd_token_list(args):
    """The user and service tokens not revoked, expired ones too (agent tokens are the
    API's own business: one per submission, revoked with their batch jobs)."""
    now = timeutil.now()
    tokens = (Token.select(Token, User).join(User, peewee.JOIN.LEFT_OUTER)
              .where(Token.kind != "agent", Token.revoked_at.is_null()).order_by(Token.id))
    if args.user:
        tokens = tokens.where(User.name == args.user)
    print(f"{'id':>4}  {'kind':<6} {'user':<24} {'prefix':<8}  {'created':<20}  expires")
    for token in tokens:
        owner = token.user.name if token.user_id else "-"
        print(f"{token.id:>4}  {token.kind:<6} {owner:<24} {token.prefix:<8}  "
              f"{timeutil.iso(token.created_at):<20}  {_expiry_text(token, now)}")


def cmd_token_revoke(args):
    key = args.token
    active = Token.select().where(Token.revoked_at.is_null())
    if key.isdigit():
        matches = list(active.where(Token.id == int(key)))
    elif len(key) >= auth.MIN_TOKEN_LENGTH:
        matches = list(active.where(Token.token_hash == auth.hash_token(key)))
    elif 4 <= len(key) <= auth.PREFIX_LENGTH:
        # startswith() is case-insensitive in SQL; prefixes are not.
        matches = [t for t in active.where(Token.prefix.startswith(key))
                   if t.prefix.startswith(key)]
    else:
        raise CliError(f"give a token id, its first 4 to {auth.PREFIX_LENGTH} characters, "
                       f"or the whole token")
    if not matches:
        raise CliError(f"no active token matches {key!r}")
    if len(matches) > 1:
        raise CliError(f"{len(matches)} tokens match {key!r} (ids "
                       f"{', '.join(str(t.id) for t in matches)}): give the id")
    Token.update(revoked_at=timeutil.now()).where(Token.id == matches[0].id).execute()
    print(f"revoked token {matches[0].id} ({matches[0].kind}, prefix {matches[0].prefix})")


def _ensure_token(token, kind, user=None, cluster=None):
    """Make ``token`` the one active managed token of this principal (a site agent's: of
    its ``cluster``); True if changed."""
    token_hash = auth.hash_token(token)
    existing = Token.get_or_none(Token.token_hash == token_hash)
    owner = user.id if user else None
    if existing and (existing.kind != kind or existing.user_id != owner
                     or existing.cluster != cluster):
        raise CliError("this token is already in use by another principal")
    changed = False
    if existing is None:
        auth.store_token(token, kind, user=user, managed=True, cluster=cluster)
        changed = True
    elif existing.revoked_at is not None:
        raise CliError("this token was revoked; generate a new one")
    others = Token.update(revoked_at=timeutil.now()).where(
        Token.kind == kind, Token.user == owner if user else Token.user.is_null(),
        Token.cluster == cluster if cluster else Token.cluster.is_null(),
        Token.managed == True, Token.revoked_at.is_null(),  # noqa: E712 (SQL comparison)
        Token.token_hash != token_hash).execute()
    return changed or others > 0


def cmd_token_ensure(args):
    name = _check_name(args.user)
    token = _read_token_file(args.token_file)
    role = "admin" if args.admin else "user"
    with db.database.atomic():
        user = User.get_or_none(User.name == name)
        changes = []
        if user is None:
            user = User.create(name=name, role=role, created_at=timeutil.now())
            changes.append(f"created {role} {name}")
        elif user.role != role:
            User.update(role=role).where(User.id == user.id).execute()
            changes.append(f"{name} is now {role}")
        if _ensure_token(token, "user", user):
            changes.append(f"installed the token of {name}")
    _stateful(bool(changes), "; ".join(changes) or f"unchanged: {name} has this token")


def cmd_service_token_ensure(args):
    token = _read_token_file(args.token_file)
    with db.database.atomic():
        changed = _ensure_token(token, args.service)
    _stateful(changed, f"installed the {args.service} service token" if changed
              else f"unchanged: the {args.service} service token is installed")


def _check_cluster(cluster, config):
    if cluster not in config.pull_clusters:
        raise CliError(f"cluster {cluster!r} is not in pull mode: the API's pull_clusters are "
                       f"{', '.join(config.pull_clusters) or 'none'}")
    return cluster


def cmd_site_token_create(args):
    cluster = _check_cluster(args.cluster, args.settings)
    with db.database.atomic():
        token = auth.issue_token("site", cluster=cluster)
    print(f"created a site agent token for cluster {cluster} (shown once, keep it secret; "
          f"put it in the site agent's api_token_file):", file=sys.stderr)
    print(token)


def cmd_site_token_ensure(args):
    cluster = _check_cluster(args.cluster, args.settings)
    token = _read_token_file(args.token_file)
    with db.database.atomic():
        changed = _ensure_token(token, "site", cluster=cluster)
    _stateful(changed, f"installed the site agent token of cluster {cluster}" if changed
              else f"unchanged: the site agent token of cluster {cluster} is installed")


def build_parser():
    parser = argparse.ArgumentParser(prog="raycrafter-admin", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help=f"TOML config file (default: ${config_module.ENV_VAR})")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="upgrade the database schema").set_defaults(
        func=cmd_migrate, needs_current_schema=False)

    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="user_command", required=True)
    add = user.add_parser("add", help="create a user and print its first token once")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true")
    _expiry_options(add)
    add.set_defaults(func=cmd_user_add)
    user.add_parser("list", help="list users").set_defaults(func=cmd_user_list)
    for name, func, text in (("disable", cmd_user_disable, "refuse every token of a user"),
                             ("enable", cmd_user_enable, "accept a disabled user's tokens again")):
        command = user.add_parser(name, help=text)
        command.add_argument("name")
        command.set_defaults(func=func)

    token = commands.add_parser("token", help="manage tokens").add_subparsers(
        dest="token_command", required=True)
    create = token.add_parser("create", help="make another token for a user, print it once")
    create.add_argument("--user", required=True)
    _expiry_options(create)
    create.set_defaults(func=cmd_token_create)
    listing = token.add_parser("list", help="list user and service tokens and their expiry")
    listing.add_argument("--user", help="only this user's")
    listing.set_defaults(func=cmd_token_list)
    revoke = token.add_parser("revoke", help="revoke a token by id or leading characters")
    revoke.add_argument("token", metavar="TOKEN_PREFIX_OR_ID", nargs="?")
    revoke.set_defaults(func=cmd_token_revoke)
    ensure = token.add_parser("ensure", help="install a user's token from a file (idempotent)")
    ensure.add_argument("--user", required=True)
    ensure.add_argument("--admin", action="store_true")
    ensure.add_argument("--token-file", required=True)
    ensure.set_defaults(func=cmd_token_ensure)

    service = commands.add_parser("service-token", help="manage service tokens").add_subparsers(
        dest="service_command", required=True)
    service_ensure = service.add_parser("ensure", help="install a service token from a file")
    service_ensure.add_argument("service", choices=["worker"])
    service_ensure.add_argument("--token-file", required=True)
    service_ensure.set_defaults(func=cmd_service_token_ensure)

    site = commands.add_parser(
        "site-token", help="manage the tokens of site agents (clusters in pull mode)"
    ).add_subparsers(dest="site_command", required=True)
    site_create = site.add_parser("create", help="issue a token for a cluster's site agent "
                                                 "and print it once")
    site_create.add_argument("--cluster", required=True)
    site_create.set_defaults(func=cmd_site_token_create)
    site_ensure = site.add_parser("ensure", help="install a cluster's site agent token from "
                                                 "a file (idempotent)")
    site_ensure.add_argument("--cluster", required=True)
    site_ensure.add_argument("--token-file", required=True)
    site_ensure.set_defaults(func=cmd_site_token_ensure)

    logs = commands.add_parser("logs", help="search the log server's records (on the log "
                                            "host, over its search port)")
    add_query_options(logs)
    logs.add_argument("--search-config", metavar="FILE",
                      help=f"where the log server is and its search token (default: "
                           f"${log_search.ENV_VAR})")
    logs.set_defaults(func=log_search.run)
    return parser


def _expiry_options(parser):
    expiry = parser.add_mutually_exclusive_group()
    expiry.add_argument("--expires-in", metavar="DURATION",
                        help="the token stops working after this long: 30m, 12h, 90d, 2w")
    expiry.add_argument("--expires-at", metavar="TIME",
                        help="the token stops working then (UTC, ISO 8601: 2027-01-31 or "
                             "2027-01-31T18:00:00Z)")


def parse_arguments(argv):
    """argparse takes a leading "-" for an option, but one token in 64 begins with "-"
    (token_urlsafe): what is left over is the token to revoke when none was given."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "func", None) is cmd_token_revoke and args.token is None and len(extra) == 1:
        args.token, extra = extra[0], []
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "func", None) is cmd_token_revoke and args.token is None:
        parser.error("token revoke: the argument TOKEN_PREFIX_OR_ID is required")
    return args


def main(argv=None):
    args = parse_arguments(argv)
    if args.func is log_search.run:  # the log host's, not the database's
        return log_search.run(args)
    try:
        config = (config_module.load(args.config) if args.config
                  else config_module.load_from_env())
        db.bind(config.database_url)
        with db.connection():
            if getattr(args, "needs_current_schema", True):
                migrations.check_current()
            args.settings = config
            args.func(args)
    except (CliError, config_module.ConfigError, migrations.SchemaOutdated) as error:
        print(f"raycrafter-admin: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
