"""The one shape of every error answer: ``{"error": code, "message": text, "details": ...}``
(docs/protocol.md, "Conventions")."""
from dataclasses import dataclass
from typing import Any, Dict, Optional

from .records import Record

# The 401 codes of a token the API once issued: revoked (an agent's, once its batch job or
# its job ended), past its expiry (a user's that carries one), or its user's, disabled by
# an administrator.
TOKEN_REVOKED = "token_revoked"
TOKEN_EXPIRED = "token_expired"
USER_DISABLED = "user_disabled"


@dataclass(frozen=True)
class ErrorBody(Record):
    """``error`` a code for programs (``stale_lease``), ``message`` for people, ``details``
    for both (the field at fault, the limit passed), or null."""

    error: str
    message: str
    details: Optional[Dict[str, Any]]
