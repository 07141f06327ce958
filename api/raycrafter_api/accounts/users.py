"""Users and their tokens as an administrator manages them: the one rule behind both
``raycrafter-admin`` and the admin's calls of the API."""
import re

import peewee

from .. import auth, timeutil
from ..database.db import write_transaction
from ..database.models import Token, User
from ..problems import bad_field, conflict, not_found

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ROLES = ("user", "admin")


def check_name(name):
    """A user name: 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise bad_field("name", f"invalid user name {name!r}: 1-64 characters of A-Z a-z "
                                f"0-9 _ . - starting with a letter or digit")
    return name


def add_user(name, role, expires_at=None):
    """A new user and its first token's plaintext (shown once), valid until ``expires_at``
    (naive UTC) or for good."""
    check_name(name)
    if role not in ROLES:
        raise bad_field("role", f"must be one of {', '.join(ROLES)}")
    with write_transaction():
        if User.get_or_none(User.name == name):
            raise conflict("user_exists", f"user {name!r} already exists", {"name": name})
        user = User.create(name=name, role=role, created_at=timeutil.now())
        return user, auth.issue_token("user", user=user, expires_at=expires_at)


def create_token(user_id, expires_at=None):
    """Another token for an existing user; its plaintext (shown once)."""
    with write_transaction():
        user = User.get_or_none(User.id == user_id)
        if user is None:
            raise not_found("user")
        return user, auth.issue_token("user", user=user, expires_at=expires_at)


def revoke_token(token_id):
    """Revoke an active user token by id; the revoked token's row."""
    with write_transaction():
        token = Token.get_or_none(Token.id == token_id, Token.kind == "user")
        if token is None:
            raise not_found("token")
        if token.revoked_at is not None:
            raise conflict("token_revoked", f"token {token_id} is already revoked")
        token.revoked_at = timeutil.now()
        Token.update(revoked_at=token.revoked_at).where(Token.id == token.id).execute()
        return token


def active_tokens():
    """Tokens neither revoked nor expired."""
    return Token.select().where(Token.revoked_at.is_null(), Token.expires_at.is_null()
                                | (Token.expires_at > timeutil.now()))


def active_token_counts():
    """{user_id: number of active user tokens}, in one query."""
    rows = (active_tokens().select(Token.user, peewee.fn.COUNT(Token.id))
            .where(Token.kind == "user").group_by(Token.user).tuples())
    return dict(rows)


def user_view(user, active):
    return {"id": user.id, "name": user.name, "role": user.role,
            "created_at": timeutil.iso(user.created_at),
            "disabled_at": timeutil.iso(user.disabled_at), "active_tokens": active}


def users():
    counts = active_token_counts()
    return [user_view(user, counts.get(user.id, 0)) for user in User.select().order_by(User.id)]


def token_view(token, user_name):
    """A token as an administrator sees it: never its hash, only the prefix that names it."""
    return {"id": token.id, "user": user_name, "prefix": token.prefix,
            "managed": token.managed, "created_at": timeutil.iso(token.created_at),
            "expires_at": timeutil.iso(token.expires_at),
            "revoked_at": timeutil.iso(token.revoked_at)}


def tokens():
    """Every user token, newest first."""
    query = (Token.select(Token, User).join(User).where(Token.kind == "user")
             .order_by(Token.id.desc()))
    return [token_view(token, token.user.name) for token in query]
