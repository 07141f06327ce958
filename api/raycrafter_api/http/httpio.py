"""Reading requests and writing responses: the only module besides routes that knows HTTP."""
import hashlib
import json

import bottle
from raycrafter_contract.naming import DEFAULT_PAGE, MAX_PAGE
from raycrafter_contract.wire import json_text
from raycrafter_contract.wire.endpoints import MAX_JSON_BODY_BYTES
from raycrafter_contract.wire.records import json_default

from .. import auth
from ..problems import bad_field
from .errors import ApiError

MAX_JSON_BYTES = MAX_JSON_BODY_BYTES


def principal(*kinds):
    """Authenticate the caller and require one of ``kinds`` (401/403 otherwise)."""
    caller = auth.authenticate(bottle.request.get_header("Authorization"))
    auth.require(caller, *kinds)
    return caller


# The worker, or a site agent: it acts as the worker for its own cluster's jobs, which
# each route checks (job_lookup.job_for_worker).
WORKER_SIDE = ("worker", "site")


def worker_side():
    return principal(*WORKER_SIDE)


def agent_of(job_id):
    """The agent principal of ``job_id``; an agent of another job is refused (403)."""
    caller = principal("agent")
    if caller.job_id != job_id:
        raise ApiError(403, "forbidden", "this agent token belongs to another job")
    return caller


def media_type():
    return bottle.request.content_type.split(";")[0].strip().lower()


def require_media_type(*types):
    if media_type() not in types:
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type must be {' or '.join(types)}", {"expected": list(types)})


def json_body():
    """The request's JSON object (415 if not JSON, 413 if too big, 400 if malformed)."""
    require_media_type("application/json")
    if bottle.request.content_length > MAX_JSON_BYTES:
        raise ApiError(413, "too_large", f"JSON bodies are limited to {MAX_JSON_BYTES} bytes",
                       {"limit": MAX_JSON_BYTES})
    raw = bottle.request.body.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise ApiError(413, "too_large", f"JSON bodies are limited to {MAX_JSON_BYTES} bytes",
                       {"limit": MAX_JSON_BYTES})
    try:
        body = json_text.loads(raw or b"{}")
    except json_text.NonFiniteNumber as error:
        raise bad_field(error.field, error.problem) from None
    except ValueError:
        raise bad_field("body", "is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_field("body", "must be a JSON object")
    return body


def page_params(default_limit=DEFAULT_PAGE):
    """``limit`` and ``offset`` query parameters, validated."""
    return limit_param(default_limit), _query_int("offset", 0, 0, 2 ** 31 - 1)


def limit_param(default_limit=DEFAULT_PAGE):
    """The ``limit`` query parameter, validated."""
    return _query_int("limit", default_limit, 1, MAX_PAGE)


def optional_int(name, low, high):
    """An integer query parameter between ``low`` and ``high``, validated; None if absent."""
    return _query_int(name, None, low, high)


def _query_int(name, default, low, high):
    text = bottle.request.query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise bad_field(name, "must be an integer") from None
    if not low <= value <= high:
        raise bad_field(name, f"must be between {low} and {high}")
    return value


def text_param(name, max_length=200):
    """A printable text from the query (a filter), or None."""
    text = bottle.request.query.get(name)
    if not text:
        return None
    if len(text) > max_length or not text.isprintable():
        raise bad_field(name, f"must be printable text of at most {max_length} characters")
    return text


def send_json(payload, status=200):
    """Answer with ``payload``: a wire record, or JSON-ready values that may hold records
    (a page of jobs)."""
    bottle.response.status = status
    bottle.response.content_type = "application/json"
    return json.dumps(payload, default=json_default)


def send_json_revalidated(payload):
    """Answer like ``send_json`` with an ETag of the body, or 304 and no body when the
    client's copy (``If-None-Match``) is current: a page polling a job that did not change
    gets nothing to redraw and nothing to transfer."""
    return send_json_tagged(None, lambda: payload)


def send_json_tagged(tag, build):
    """Answer with the JSON of ``build()`` and ``tag`` as its ETag, or 304 without calling
    ``build`` when the client's copy is ``tag``. Without a tag (None) the body is built
    and hashed for one, as ``send_json_revalidated`` does. The tag must have been made
    before the body is built, so the body is never older than its tag."""
    # Each caller sees their own jobs: a shared cache must not answer for another token.
    bottle.response.set_header("Cache-Control", "private, no-cache")
    bottle.response.set_header("Vary", "Authorization")
    if tag is not None and tag in _client_tags():
        return _not_modified(tag)
    body = send_json(build())
    tag = tag or '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32] + '"'
    if tag in _client_tags():
        return _not_modified(tag)
    bottle.response.set_header("ETag", tag)
    return body


def _not_modified(tag):
    bottle.response.status = 304
    bottle.response.set_header("ETag", tag)
    return ""


def _client_tags():
    header = bottle.request.get_header("If-None-Match") or ""
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


def send_file(path, content_type, download_name=None, headers=None):
    """Stream a file; bottle closes it when the response is done."""
    bottle.response.content_type = content_type
    handle = open(path, "rb")
    bottle.response.content_length = _size(handle)
    if download_name:
        bottle.response.set_header("Content-Disposition",
                                   f'attachment; filename="{download_name}"')
    for name, value in (headers or {}).items():
        bottle.response.set_header(name, value)
    return handle


def _size(handle):
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(0)
    return size
