"""The user calls of the API (docs/api.md) over the contract's HTTP helper, and what their
failures mean to the user.

Redirects are not followed: the appliance answers plain HTTP with a redirect to HTTPS,
and following it would turn an upload (POST) into a GET; the user is told the address
to set instead.
"""
import secrets
import socket
import urllib.parse

from raycrafter_contract.naming import DEFAULT_PAGE, MAX_PAGE
from raycrafter_contract.utilities.http_client import (ApiConnection, CallFailed, ErrorAnswer,
                                                      NoAnswer, Redirected, UnreadableAnswer)
from raycrafter_contract.wire.jobs import JobPage, JobView

from . import exit_codes
from .errors import CliError

TIMEOUT_SECONDS = 60
CHUNK = 1024 * 1024
USER_AGENT = "raycrafter-cli"


class ApiError(CliError):
    """The API answered with an error: its JSON ``message``, or the bare HTTP status.
    ``transient`` and ``retry_after`` follow the contract's retry rule."""

    def __init__(self, failure, message):
        super().__init__(message, _exit_status(failure))
        self.http_status = failure.status
        self.transient = failure.transient
        self.retry_after = failure.retry_after


class ApiUnavailable(CliError):
    """No proper answer: connection, TLS, timeout, a redirect, or not the API at all.
    Asking again later may help, but for an untrusted certificate or a redirect."""

    def __init__(self, message, transient=True):
        super().__init__(message, exit_codes.API_UNAVAILABLE)
        self.transient = transient


def _exit_status(failure):
    if failure.status in (401, 403):
        return exit_codes.AUTH_FAILED
    if failure.transient:
        return exit_codes.API_UNAVAILABLE
    return exit_codes.API_REFUSED


class Api:
    """One method per user call; each returns the decoded answer or raises a CliError."""

    def __init__(self, settings, timeout=TIMEOUT_SECONDS):
        self.base = settings.api_url
        self._timeout = timeout
        self._api = ApiConnection(settings.api_url, settings.token, settings.ca_file, timeout,
                                  USER_AGENT)

    def create_job(self, fields, scene):
        """POST /jobs with the form ``fields`` and the packed ``scene`` (a Scene)."""
        body = _Multipart(fields, "scene", scene.filename, scene.file, scene.size)
        return self._sorted(self._api.send, "POST", "/jobs", body, {
            "Content-Type": body.content_type, "Content-Length": str(body.length)}, JobView)

    def jobs(self, state=None, limit=DEFAULT_PAGE):
        return self._json("GET", _with_query("/jobs", state=state, limit=limit), answer=JobPage)

    def job(self, job_id):
        return self._json("GET", f"/jobs/{job_id}", answer=JobView)

    def cancel(self, job_id):
        return self._json("POST", f"/jobs/{job_id}/cancel", {}, JobView)

    def webhook_secret(self, rotate=False):
        if rotate:
            return self._json("POST", "/webhook-secret/rotate", {})["secret"]
        return self._json("GET", "/webhook-secret")["secret"]

    def events(self, job_id):
        return self._every(f"/jobs/{job_id}/events", "events")

    def frames(self, job_id):
        return self._every(f"/jobs/{job_id}/frames", "frames")

    def frame_log(self, job_id, number):
        path = f"/jobs/{job_id}/frames/{number}/log"
        with self._sorted(self._api.open, "GET", path) as response:
            return self._sorted(self._api.read, response, "GET", path).decode("utf-8", "replace")

    def save_archive(self, job_id, target):
        """Write the zip of the job's collected frames into the open file ``target``."""
        path = f"/jobs/{job_id}/archive"
        with self._sorted(self._api.open, "GET", path) as response:
            while chunk := self._sorted(self._api.read, response, "GET", path, CHUNK):
                target.write(chunk)

    def _every(self, path, key):
        """Every item of a paged list."""
        items, offset = [], 0
        while offset is not None:
            page = self._json("GET", _with_query(path, limit=MAX_PAGE, offset=offset))
            items.extend(page[key])
            offset = page["next_offset"]
        return items

    def _json(self, method, path, body=None, answer=None):
        return self._sorted(self._api.call, method, path, body, answer)

    def _sorted(self, function, *args):
        """``function(*args)``, its failures turned into what they mean to the user."""
        try:
            return function(*args)
        except CallFailed as failure:
            raise self._explained(failure) from None

    def _explained(self, failure):
        if isinstance(failure, Redirected):
            return ApiUnavailable(f"{self.base} redirects to {failure.location}; set "
                                  f"RAYCRAFTER_URL (or `url`) to the appliance's https:// "
                                  f"address", transient=False)
        if isinstance(failure, ErrorAnswer):
            return ApiError(failure, failure.body.message if failure.shaped else
                            f"{self.base} answered HTTP {failure.status} "
                            f"{failure.body.message}")
        if isinstance(failure, UnreadableAnswer):
            return ApiUnavailable(f"{failure}; is this the appliance's address?")
        if isinstance(failure, NoAnswer):
            return self._unreachable(failure)
        return ApiUnavailable(f"{self.base}: {failure}", transient=failure.transient)

    def _unreachable(self, failure):
        reason = failure.reason
        if failure.untrusted:
            return ApiUnavailable(f"the TLS certificate of {self.base} is not trusted "
                                  f"({reason.verify_message}); set RAYCRAFTER_CA (or "
                                  f"`ca_file`) to the appliance's CA certificate",
                                  transient=False)
        if isinstance(reason, socket.gaierror):
            return ApiUnavailable(f"cannot find the host of {self.base}: {reason.strerror}")
        if isinstance(reason, TimeoutError):
            return ApiUnavailable(f"{self.base} did not answer within {self._timeout} s")
        text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
        return ApiUnavailable(f"cannot reach {self.base}: {text}")


def _with_query(path, **params):
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    return f"{path}?{query}" if query else path


class _Multipart:
    """A multipart/form-data body that streams its file instead of holding it in memory."""

    def __init__(self, fields, file_field, filename, fileobj, size):
        boundary = f"raycrafter-{secrets.token_hex(16)}"
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                 f'{value}\r\n' for name, value in fields.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
                     f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n')
        self._head = "".join(parts).encode("utf-8")
        self._tail = f"\r\n--{boundary}--\r\n".encode("ascii")
        self._file = fileobj
        self.length = len(self._head) + size + len(self._tail)
        self.content_type = f"multipart/form-data; boundary={boundary}"

    def __iter__(self):
        yield self._head
        while chunk := self._file.read(CHUNK):
            yield chunk
        yield self._tail
