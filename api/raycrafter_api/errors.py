"""One error shape for every failure: ``{"error": code, "message": text, "details": ...}``."""
import json
import logging

import bottle

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


def bad_field(field, message):
    return ApiError(400, "invalid_field", f"{field}: {message}", {"field": field})


def not_found(what="job"):
    return ApiError(404, "not_found", f"{what} not found")


def conflict(code, message, details=None):
    return ApiError(409, code, message, details)


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
    return json.dumps({"error": code, "message": str(message), "details": details})
