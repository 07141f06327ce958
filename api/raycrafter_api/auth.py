"""Bearer tokens and the principals they stand for (user, admin, worker, agent, site)."""
import dataclasses
import hashlib
import re
import secrets

from raycrafter_contract.wire.errors import TOKEN_EXPIRED, TOKEN_REVOKED, USER_DISABLED

from . import timeutil
from .database.models import Token
from .database.statements import Statement
from .problems import Forbidden, Unauthenticated

PREFIX_LENGTH = 8
# A token installed from a file must carry at least 256 bits: 43 URL-safe base64 characters.
MIN_TOKEN_LENGTH = 43
_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
# Why a revoked token is refused, by its kind: an agent's tells it that its work is over.
_REVOKED = {"agent": "this agent token was revoked: its batch job ended, or the job did"}
# What a principal is made of, and no more: every request runs it, so it is prepared once
# per connection (database/statements.py). Whether the token is revoked or expired and its
# user disabled is read at each request, so a revocation holds from the next request on,
# whichever process made it.
_PRINCIPAL = Statement(
    'SELECT token.kind, token.job_id, token.cluster, token.revoked_at IS NOT NULL, '
    'token.expires_at IS NOT NULL AND token.expires_at <= %s, "user".id, "user".name, '
    '"user".role, "user".disabled_at IS NOT NULL '
    'FROM token LEFT OUTER JOIN "user" ON "user".id = token.user_id '
    'WHERE token.token_hash = %s',
    ("kind", "job_id", "cluster", "revoked", "expired", "user_id", "user_name", "user_role",
     "user_disabled"))


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling: ``kind`` is user, admin, worker, agent or site (a site agent, which
    acts as the worker for the jobs of its ``cluster`` only)."""
    kind: str
    user_id: int | None = None
    user_name: str | None = None
    job_id: int | None = None
    cluster: str | None = None

    @property
    def actor(self):
        """How this principal is named in events."""
        if self.kind in ("user", "admin"):
            return f"{self.kind}:{self.user_name}"
        if self.kind == "agent":
            return f"agent:job-{self.job_id}"
        if self.kind == "site":
            return f"site:{self.cluster}"
        return self.kind


def new_token():
    """256 random bits, URL-safe, never beginning with '-' (one in 64 would, and a command
    given the token as an argument takes it for an option)."""
    token = secrets.token_urlsafe(32)
    while token.startswith("-"):
        token = secrets.token_urlsafe(32)
    return token


def hash_token(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def validate_token_text(token):
    """Check a token that was generated elsewhere (installed by Salt from a file)."""
    if len(token) < MIN_TOKEN_LENGTH or not _TOKEN_PATTERN.match(token):
        raise ValueError(f"a token must be at least {MIN_TOKEN_LENGTH} URL-safe characters "
                         f"(A-Z a-z 0-9 _ -), e.g. from secrets.token_urlsafe(32)")


def store_token(token, kind, user=None, job=None, managed=False, attempt=None,
                expires_at=None, cluster=None):
    """Store the hash of a plaintext token; the plaintext is never stored."""
    return Token.create(kind=kind, user=user, job=job, attempt=attempt, cluster=cluster,
                        token_hash=hash_token(token), prefix=token[:PREFIX_LENGTH],
                        managed=managed, created_at=timeutil.now(), expires_at=expires_at)


def issue_token(kind, user=None, job=None, attempt=None, expires_at=None, cluster=None):
    """Create a fresh token and return its plaintext (shown once)."""
    token = new_token()
    store_token(token, kind, user=user, job=job, attempt=attempt, expires_at=expires_at,
                cluster=cluster)
    return token


def revoke_agent_tokens(job_id, up_to_attempt=None):
    """Revoke the job's agent tokens, or only those of submission attempts up to
    ``up_to_attempt`` (its batch job ended, or a newer attempt was recorded): a token dies
    with its batch job. Tokens issued before attempts were recorded with them belong to
    some earlier attempt, and go too. Inside the caller's transaction."""
    tokens = (Token.kind == "agent") & (Token.job == job_id) & Token.revoked_at.is_null()
    if up_to_attempt is not None:
        tokens &= (Token.attempt <= up_to_attempt) | Token.attempt.is_null()
    Token.update(revoked_at=timeutil.now()).where(tokens).execute()


def authenticate(header):
    """Resolve an ``Authorization`` header to a Principal or raise Unauthenticated."""
    if not header:
        raise Unauthenticated("unauthorized", "missing Authorization: Bearer token")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("unauthorized", "Authorization must be 'Bearer TOKEN'")
    row = _PRINCIPAL.first(timeutil.now(), hash_token(token))
    if row is None:
        raise Unauthenticated("unauthorized", "unknown or revoked token")
    if row.revoked:
        raise Unauthenticated(TOKEN_REVOKED, _REVOKED.get(row.kind, "this token was revoked"))
    if row.expired:
        expires_at = Token.get(Token.token_hash == hash_token(token)).expires_at
        raise Unauthenticated(TOKEN_EXPIRED, f"this token expired at "
                                             f"{timeutil.iso(expires_at)}; ask for a "
                                             f"new one")
    if row.kind == "user" and row.user_disabled:
        raise Unauthenticated(USER_DISABLED, f"user {row.user_name} was disabled by an "
                                             f"administrator")
    if row.kind == "user":
        return Principal(kind=row.user_role, user_id=row.user_id, user_name=row.user_name)
    if row.kind == "agent":
        return Principal(kind="agent", job_id=row.job_id)
    if row.kind == "site":
        return Principal(kind="site", cluster=row.cluster)
    return Principal(kind=row.kind)


def may_reach_cluster(principal, cluster):
    """Whether a worker-side principal may act on a job of ``cluster``: the worker on
    every one, a site agent on its own cluster's only."""
    return principal.kind == "worker" or principal.cluster == cluster


def require(principal, *kinds):
    """Refuse (Forbidden) a principal whose kind may not call this endpoint."""
    if principal.kind not in kinds:
        raise Forbidden("forbidden", f"a {principal.kind} token may not call this endpoint",
                        {"allowed": list(kinds)})
