"""The one shape of every error answer: ``{"error": code, "message": text, "details": ...}``
(docs/protocol.md, "Conventions")."""
from dataclasses import dataclass
from typing import Any, Dict, Optional

from .records import Record


@dataclass(frozen=True)
class ErrorBody(Record):
    """``error`` a code for programs (``stale_lease``), ``message`` for people, ``details``
    for both (the field at fault, the limit passed), or null."""

    error: str
    message: str
    details: Optional[Dict[str, Any]]
