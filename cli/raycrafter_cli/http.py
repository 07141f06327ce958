"""The user calls of the API (docs/api.md) over urllib, and what their failures mean.

Redirects are not followed: the appliance answers plain HTTP with a redirect to HTTPS,
and following it would turn an upload (POST) into a GET; the user is told the address
to set instead.
"""
import http.client
import json
import secrets
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request

from raycrafter_contract.naming import DEFAULT_PAGE, MAX_PAGE

from . import exit_codes
from .errors import CliError

TIMEOUT_SECONDS = 60
CHUNK = 1024 * 1024
USER_AGENT = "raycrafter-cli"


class ApiError(CliError):
    """The API answered with an error: its JSON ``message``, or the bare HTTP status."""

    def __init__(self, http_status, message):
        super().__init__(message, _exit_status(http_status))
        self.http_status = http_status

    @property
    def transient(self):
        return self.http_status >= 500 or self.http_status == 429


class ApiUnavailable(CliError):
    """No proper answer: connection, TLS, timeout, a redirect, or not the API at all."""

    transient = True

    def __init__(self, message):
        super().__init__(message, exit_codes.API_UNAVAILABLE)


def _exit_status(http_status):
    if http_status in (401, 403):
        return exit_codes.AUTH_FAILED
    if http_status >= 500 or http_status == 429:
        return exit_codes.API_UNAVAILABLE
    return exit_codes.API_REFUSED


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # urllib then raises the 3xx as an HTTPError


class Api:
    """One method per user call; each returns the decoded answer or raises a CliError."""

    def __init__(self, settings, timeout=TIMEOUT_SECONDS):
        self.base = settings.api_url
        self._token = settings.token
        self._timeout = timeout
        context = ssl.create_default_context(cafile=settings.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context), _RefuseRedirects)

    def create_job(self, fields, scene):
        """POST /jobs with the form ``fields`` and the packed ``scene`` (a Scene)."""
        body = _Multipart(fields, "scene", scene.filename, scene.file, scene.size)
        return self._json("POST", "/jobs", body, {"Content-Type": body.content_type,
                                                  "Content-Length": str(body.length)})

    def jobs(self, state=None, limit=DEFAULT_PAGE):
        return self._json("GET", _with_query("/jobs", state=state, limit=limit))

    def job(self, job_id):
        return self._json("GET", f"/jobs/{job_id}")

    def cancel(self, job_id):
        return self._json("POST", f"/jobs/{job_id}/cancel", b"{}",
                          {"Content-Type": "application/json"})

    def events(self, job_id):
        return self._every(f"/jobs/{job_id}/events", "events")

    def frames(self, job_id):
        return self._every(f"/jobs/{job_id}/frames", "frames")

    def frame_log(self, job_id, number):
        with self._open("GET", f"/jobs/{job_id}/frames/{number}/log") as response:
            return self._read(response).decode("utf-8", "replace")

    def save_archive(self, job_id, target):
        """Write the zip of the job's collected frames into the open file ``target``."""
        with self._open("GET", f"/jobs/{job_id}/archive") as response:
            while chunk := self._read(response, CHUNK):
                target.write(chunk)

    def _every(self, path, key):
        """Every item of a paged list."""
        items, offset = [], 0
        while offset is not None:
            page = self._json("GET", _with_query(path, limit=MAX_PAGE, offset=offset))
            items.extend(page[key])
            offset = page["next_offset"]
        return items

    def _json(self, method, path, body=None, headers=None):
        with self._open(method, path, body, headers) as response:
            payload = self._read(response)
        try:
            return json.loads(payload)
        except ValueError:
            raise ApiUnavailable(f"{self.base}{path} answered with something that is not "
                                 f"JSON; is this the appliance's address?") from None

    def _open(self, method, path, body=None, headers=None):
        request = urllib.request.Request(
            self.base + path, data=body, method=method,
            headers={"Authorization": f"Bearer {self._token}", "User-Agent": USER_AGENT,
                     **(headers or {})})
        try:
            return self._opener.open(request, timeout=self._timeout)
        except urllib.error.HTTPError as error:
            try:
                failure = self._answer_error(error)
            finally:
                error.close()
            raise failure from None
        except urllib.error.URLError as error:
            raise self._unreachable(error.reason) from None
        except (TimeoutError, ConnectionError, http.client.HTTPException,
                ssl.SSLError) as error:
            raise self._unreachable(error) from None

    def _read(self, response, size=-1):
        try:
            return response.read(size)
        except (OSError, http.client.HTTPException) as error:
            raise self._unreachable(error) from None

    def _answer_error(self, error):
        if 300 <= error.code < 400:
            target = error.headers.get("Location", "another address")
            return ApiUnavailable(f"{self.base} redirects to {target}; set RAYCRAFTER_URL "
                                  f"(or `url`) to the appliance's https:// address")
        try:
            return ApiError(error.code, json.loads(error.read())["message"])
        except (ValueError, TypeError, KeyError, OSError, http.client.HTTPException):
            return ApiError(error.code, f"{self.base} answered HTTP {error.code} {error.reason}")

    def _unreachable(self, reason):
        if isinstance(reason, ssl.SSLCertVerificationError):
            return ApiUnavailable(f"the TLS certificate of {self.base} is not trusted "
                                  f"({reason.verify_message}); set RAYCRAFTER_CA (or `ca_file`)"
                                  f" to the appliance's CA certificate")
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
