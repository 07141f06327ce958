"""``raycrafter-admin``: migrations, users and tokens.

The ``ensure`` commands and ``migrate`` are idempotent and end with one line in Salt's
``stateful`` format (``changed=yes|no comment="..."``) so a ``cmd.run`` with
``stateful: True`` reports a change only when something changed.
"""
import argparse
import shlex
import sys

from .. import auth, config as config_module, timeutil
from ..accounts import users
from ..database import db, migrations
from ..database.models import Token, User
from ..problems import Problem


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


def cmd_migrate(args):
    before = migrations.current_version()
    applied = migrations.migrate_to()
    if applied:
        _stateful(True, f"schema migrated from version {before} to {migrations.LATEST}")
    else:
        _stateful(False, f"unchanged: schema already at version {before}")


def cmd_user_add(args):
    name = _check_name(args.name)
    try:
        user, token = users.add_user(name, "admin" if args.admin else "user")
    except Problem as problem:
        raise CliError(problem.message) from None
    print(f"created {user.role} {name}; token (shown once, keep it secret):", file=sys.stderr)
    print(token)


def cmd_user_list(args):
    print(f"{'id':>4}  {'name':<24} {'role':<6} {'tokens':>6}  created")
    for user in User.select().order_by(User.id):
        active = Token.select().where(Token.user == user, Token.revoked_at.is_null()).count()
        print(f"{user.id:>4}  {user.name:<24} {user.role:<6} {active:>6}  "
              f"{timeutil.iso(user.created_at)}")


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


def _ensure_token(token, kind, user=None):
    """Make ``token`` the one active managed token of this principal; True if changed."""
    token_hash = auth.hash_token(token)
    existing = Token.get_or_none(Token.token_hash == token_hash)
    owner = user.id if user else None
    if existing and (existing.kind != kind or existing.user_id != owner):
        raise CliError("this token is already in use by another principal")
    changed = False
    if existing is None:
        auth.store_token(token, kind, user=user, managed=True)
        changed = True
    elif existing.revoked_at is not None:
        raise CliError("this token was revoked; generate a new one")
    others = Token.update(revoked_at=timeutil.now()).where(
        Token.kind == kind, Token.user == owner if user else Token.user.is_null(),
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
    add.set_defaults(func=cmd_user_add)
    user.add_parser("list", help="list users").set_defaults(func=cmd_user_list)

    token = commands.add_parser("token", help="manage tokens").add_subparsers(
        dest="token_command", required=True)
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
    return parser


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
    try:
        config = (config_module.load(args.config) if args.config
                  else config_module.load_from_env())
        db.bind(config.database_url)
        with db.connection():
            if getattr(args, "needs_current_schema", True):
                migrations.check_current()
            args.func(args)
    except (CliError, config_module.ConfigError, migrations.SchemaOutdated) as error:
        print(f"raycrafter-admin: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
