"""Calls to the API over urllib, as the CLI, the worker and the node agent make them.

What the three share lives here: the request (bearer token, user agent, JSON in and out),
TLS pinned to a CA file, one timeout, no redirects (the appliance redirects plain HTTP to
HTTPS, and following that would turn a POST into a GET), answers decoded into their wire
records and error answers into the error record, and every failure sorted by the
contract's retry rule (``raycrafter_contract.wire.retrying``). Each client keeps what is
its own: its calls, and what each failure means to it.

The standard library only, down to Python 3.8: the node agent runs on old cluster Pythons.
"""
import http.client
import json
import socket
import ssl
import urllib.error
import urllib.request

from ..wire import json_text, retrying
from ..wire.errors import ErrorBody
from ..wire.records import WireError


class CallFailed(Exception):
    """A call that got no usable answer. ``transient``: whether trying again may help (the
    contract's retry rule); ``retry_after``: the seconds the server asked to wait, or None."""

    transient = False
    retry_after = None


class NoAnswer(CallFailed):
    """No answer at all: refused, reset, timed out, no such host, TLS. ``reason`` is the
    underlying exception; ``untrusted`` is set for a certificate the CA does not vouch for."""

    def __init__(self, call, reason):
        super().__init__("%s: %s" % (call, _reason_text(reason)))
        self.reason = reason
        self.untrusted = isinstance(reason, ssl.SSLCertVerificationError)
        self.transient = retrying.no_answer_is_transient(reason)


class Redirected(CallFailed):
    """A 3xx answer; ``location`` is where it points."""

    def __init__(self, call, status, location):
        super().__init__("%s was redirected (%d) to %s" % (call, status, location))
        self.status = status
        self.location = location


class ErrorAnswer(CallFailed):
    """An HTTP error answer: ``status``, and ``body`` in the protocol's error shape, made
    up from the status line (``shaped`` False) when the answer was not in it."""

    def __init__(self, call, status, body, shaped, retry_after):
        super().__init__("%s answered %d %s: %s" % (call, status, body.error, body.message))
        self.status = status
        self.body = body
        self.shaped = shaped
        self.retry_after = retry_after
        self.transient = retrying.status_is_transient(status)


class UnreadableAnswer(CallFailed):
    """An answer that is not JSON: a proxy's page while the API restarts (transient)."""

    transient = True


class UnexpectedAnswer(CallFailed):
    """JSON that does not follow the protocol: the two sides disagree on it."""


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # urllib then raises the 3xx as an HTTPError


def _connecting_to(connection_class, address):
    """``connection_class`` (http.client's) connecting to ``address`` (host, port) whatever
    host the URL names, which stays the name TLS verifies and the Host header: curl's
    --connect-to, for a node reaching the API through a gateway."""
    class Connection(connection_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._create_connection = (
                lambda _, *rest, **options: socket.create_connection(address, *rest, **options))
    return Connection


class _HttpsHandler(urllib.request.HTTPSHandler):
    def __init__(self, context, connect_to):
        super().__init__(context=context)
        self._connection = _connecting_to(http.client.HTTPSConnection, connect_to)

    def https_open(self, req):
        return self.do_open(self._connection, req, context=self._context)


class _HttpHandler(urllib.request.HTTPHandler):
    def __init__(self, connect_to):
        super().__init__()
        self._connection = _connecting_to(http.client.HTTPConnection, connect_to)

    def http_open(self, req):
        return self.do_open(self._connection, req)


class ApiConnection:
    """Calls to one API: ``base_url`` ends where the paths of the calls begin. With
    ``connect_to`` (host, port) every call connects there instead of to the URL's host,
    whose name TLS still verifies."""

    def __init__(self, base_url, token, ca_file, timeout, user_agent, connect_to=None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._headers = {"Authorization": "Bearer " + token, "User-Agent": user_agent}
        context = ssl.create_default_context(cafile=ca_file or None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        handlers = ((_HttpsHandler(context, connect_to), _HttpHandler(connect_to))
                    if connect_to else (urllib.request.HTTPSHandler(context=context),))
        self._opener = urllib.request.build_opener(*handlers, _RefuseRedirects)

    def call(self, method, path, body=None, answer=None):
        """Send ``body`` (a wire record, a JSON-ready value, or None for no body) and
        return the answer as the record class ``answer`` (or as decoded JSON without one).
        ``answer`` may also be a function that takes the decoded JSON and returns a record,
        raising WireError when it cannot."""
        if body is None:
            return self.send(method, path, None, {}, answer)
        document = body.to_json() if hasattr(body, "to_json") else body
        return self.send(method, path, json.dumps(document).encode("utf-8"),
                         {"Content-Type": "application/json"}, answer)

    def send(self, method, path, data, headers, answer=None):
        """Send ``data`` as it is (see ``open``) and return the JSON answer as ``call``
        does."""
        with self.open(method, path, data, dict(headers, Accept="application/json")) as response:
            payload = self.read(response, method, path)
        try:
            document = json_text.loads(payload.decode("utf-8"))
        except json_text.NonFiniteNumber as error:
            raise _off_protocol(method, path, error) from None
        except ValueError:
            raise UnreadableAnswer("%s %s%s answered with something that is not JSON"
                                   % (method, self.base_url, path)) from None
        if answer is None:
            return document
        try:
            return answer.from_json(document) if hasattr(answer, "from_json") \
                else answer(document)
        except WireError as error:
            raise _off_protocol(method, path, error) from None

    def open(self, method, path, data=None, headers=None):
        """The response to a request (a context manager; read it with ``read``). ``data``
        may be bytes, a file or an iterable of bytes, with its Content-Length in
        ``headers``. Raises a CallFailed for anything but a 2xx answer."""
        call = "%s %s%s" % (method, self.base_url, path)
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method,
            headers={**self._headers, **(headers or {})})
        try:
            return self._opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            try:
                failure = _answered(call, error)
            finally:
                error.close()
            raise failure from None
        except urllib.error.URLError as error:
            raise NoAnswer(call, error.reason) from None
        except (OSError, http.client.HTTPException) as error:  # timeouts, resets, TLS
            raise NoAnswer(call, error) from None

    def read(self, response, method, path, size=-1):
        """Up to ``size`` bytes of a response's body (all of it by default); a connection
        lost meanwhile is NoAnswer."""
        try:
            return response.read(size)
        except (OSError, http.client.HTTPException) as error:
            raise NoAnswer("%s %s%s" % (method, self.base_url, path), error) from None


def _off_protocol(method, path, error):
    return UnexpectedAnswer("the answer to %s %s does not follow the protocol: %s"
                            % (method, path, error))


def _answered(call, error):
    if 300 <= error.code < 400:
        return Redirected(call, error.code, error.headers.get("Location", "another address"))
    retry_after = retrying.retry_after_seconds(error.headers.get("Retry-After"))
    try:
        body = ErrorBody.from_json(json_text.loads(error.read().decode("utf-8")))
    except (ValueError, OSError, http.client.HTTPException):  # WireError is a ValueError
        # Not the protocol's error shape: a proxy's page, an empty body.
        return ErrorAnswer(call, error.code, ErrorBody("http_%d" % error.code,
                                                       str(error.reason), None),
                           False, retry_after)
    return ErrorAnswer(call, error.code, body, True, retry_after)


def _reason_text(reason):
    if isinstance(reason, ssl.SSLCertVerificationError):
        return "the TLS certificate is not trusted (%s)" % reason.verify_message
    if isinstance(reason, socket.gaierror):
        return "cannot find the host (%s)" % reason.strerror
    if isinstance(reason, socket.timeout):
        return "no answer in time"
    return getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
