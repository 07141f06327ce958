"""One error shape for every failure: ``{"error": code, "message": text, "details": ...}``,
and the one place where the domain's refusals (``raycrafter_api.problems``) become HTTP statuses."""
import functools
import json
import logging

import bottle
from raycrafter_contract.wire.errors import ErrorBody

from .. import problems

log = logging.getLogger(__name__)

_BOTTLE_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 411: "length_required", 413: "too_large",
                 415: "unsupported_media_type", 500: "internal_error"}


class ApiError(bottle.HTTPError):
    """An error a handler raises on purpose; rendered by ``render_error``."""

    def __init__(self, status, code, message, details=None, headers=None):
        super().__init__(status, message, headers=headers)
        self.code = code
        self.details = details


STATUS = {problems.Invalid: 400, problems.Unauthenticated: 401, problems.Forbidden: 403,
          problems.NotFound: 404, problems.Conflict: 409, problems.TooLarge: 413,
          problems.Unavailable: 503}
# Unauthenticated callers are told how to authenticate (RFC 9110).
_HEADERS = {problems.Unauthenticated: {"WWW-Authenticate": "Bearer"}}


def as_http(problem):
    """The ApiError a domain Problem answers as."""
    kind = type(problem)
    return ApiError(STATUS[kind], problem.code, problem.message, problem.details,
                    headers=_HEADERS.get(kind))


class ProblemPlugin:
    """Answer every Problem a route lets through with its status and the error shape."""
    name = "problems"
    api = 2

    def apply(self, callback, route):
        @functools.wraps(callback)
        def wrapper(*args, **kwargs):
            try:
                return callback(*args, **kwargs)
            except problems.Problem as problem:
                raise as_http(problem) from None
        return wrapper


def render_error(error):
    """Bottle's default error handler: turn any HTTPError (ours or bottle's) into JSON."""
    if isinstance(error, ApiError):
        code, message, details = error.code, error.body, error.details
    else:
        code = _BOTTLE_CODES.get(error.status_code, "error")
        message = error.body if error.status_code < 500 else "internal server error"
        details = None
        if error.status_code >= 500:
            log.error("unhandled error: %s", error.exception, exc_info=error.exception)
    bottle.response.content_type = "application/json"
    return json.dumps(ErrorBody(code, str(message), details).to_json())
