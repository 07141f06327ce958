"""What the domain refuses and why, in words a client can act on; nothing here knows HTTP.

Domain modules (every module outside ``app`` and the ``http`` package) raise these;
``http/errors.py`` turns each kind into its HTTP status and the one JSON error shape, in one
place, for every route.
"""


class Problem(Exception):
    """A refusal: ``code`` for programs, ``message`` for people, ``details`` for both."""

    def __init__(self, code, message, details=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class Invalid(Problem):
    """The request is malformed, or a value is out of bounds."""


class Unauthenticated(Problem):
    """No credentials, or ones nobody issued."""


class Forbidden(Problem):
    """The caller is known but may not do this."""


class NotFound(Problem):
    """No such thing, or not one the caller may see."""


class Conflict(Problem):
    """The request does not fit the current state (a job moved on, a lease went stale)."""


class TooLarge(Problem):
    """More data than the configured limit."""


class Unavailable(Problem):
    """A service the answer comes from does not answer now; asking again later may work."""


def bad_field(field, message):
    return Invalid("invalid_field", f"{field}: {message}", {"field": field})


def not_found(what="job"):
    return NotFound("not_found", f"{what} not found")


def conflict(code, message, details=None):
    return Conflict(code, message, details)


def too_large(message, limit):
    return TooLarge("too_large", message, {"limit": limit})
