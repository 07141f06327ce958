"""The agent side of the agent calls in docs/protocol.md, over urllib.

Every failure is sorted into one of three kinds, because the agent reacts to each
differently: the API is unreachable or broken for now (retry later), the lease or the job
is gone (stop this frame and move on), or the API refuses the agent for good (stop).
"""

import http.client
import json
import socket
import ssl
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Tuple

from . import __version__


class ApiUnavailable(Exception):
    """Connection refused or reset, timeout, or a 5xx answer: worth trying again."""


class LeaseGone(Exception):
    """409: the lease expired and went elsewhere, or the job is no longer active."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__("%s: %s" % (code, message))
        self.code = code


class ApiRefused(Exception):
    """Any other 4xx, or a TLS certificate the CA file does not vouch for: retrying cannot help."""


class ApiClient:
    """One method per agent call of one job; each returns the decoded JSON answer."""

    def __init__(self, base_url: str, job_id: int, token: str, ca_file: Optional[str],
                 timeout: float) -> None:
        self._base = "%s/api/v1/agent/jobs/%d" % (base_url, job_id)
        self._token = token
        self._timeout = timeout
        context = ssl.create_default_context(cafile=ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))

    def claim(self, holder: str, max_frames: int = 1) -> Dict[str, Any]:
        return self._post("/claim", {"holder": holder, "max_frames": max_frames})

    def heartbeat(self, frame: int, lease_id: str) -> Dict[str, Any]:
        return self._post("/frames/%d/heartbeat" % frame, {"lease_id": lease_id})

    def complete(self, frame: int, lease_id: str, render_seconds: float, checksum: str,
                 size: int, log_tail: str) -> Dict[str, Any]:
        return self._post("/frames/%d/complete" % frame, {
            "lease_id": lease_id, "render_seconds": round(render_seconds, 3),
            "checksum": checksum, "size": size, "log_tail": log_tail})

    def fail(self, frame: int, lease_id: str, reason: str, log_tail: str) -> Dict[str, Any]:
        return self._post("/frames/%d/fail" % frame,
                          {"lease_id": lease_id, "reason": reason, "log_tail": log_tail})

    def release(self, frame: int, lease_id: str) -> Dict[str, Any]:
        return self._post("/frames/%d/release" % frame, {"lease_id": lease_id})

    def _post(self, path: str, body: Dict[str, Any]) -> Dict[str, Any]:
        request = urllib.request.Request(
            self._base + path, data=json.dumps(body).encode("utf-8"), method="POST",
            headers={"Authorization": "Bearer " + self._token,
                     "Content-Type": "application/json", "Accept": "application/json",
                     "User-Agent": "raycrafter-nodeagent/" + __version__})
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            raise _classified(error) from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, ssl.SSLCertVerificationError):
                raise ApiRefused("TLS certificate of the API not trusted: %s "
                                 "(check --ca-file)" % error.reason) from None
            raise ApiUnavailable("API unreachable: %s" % error.reason) from None
        except (socket.timeout, ConnectionError, http.client.HTTPException, ssl.SSLError) as error:
            raise ApiUnavailable("API call %s failed: %r" % (path, error)) from None
        try:
            answer = json.loads(payload.decode("utf-8"))
        except ValueError:
            raise ApiUnavailable("API answered %s with something that is not JSON" % path) from None
        if not isinstance(answer, dict):
            raise ApiUnavailable("API answered %s with JSON that is not an object" % path)
        return answer


def _classified(error: urllib.error.HTTPError) -> Exception:
    code, message = _error_body(error)
    if error.code >= 500:
        return ApiUnavailable("API answered %d %s: %s" % (error.code, code, message))
    if error.code == 409:
        return LeaseGone(code, message)
    return ApiRefused("API refused with %d %s: %s" % (error.code, code, message))


def _error_body(error: urllib.error.HTTPError) -> Tuple[str, str]:
    """The protocol's error shape ``{"error", "message"}``, or the bare status text."""
    try:
        body = json.loads(error.read().decode("utf-8"))
        return str(body.get("error", "")), str(body.get("message", ""))
    except (ValueError, AttributeError, OSError):
        return "", str(error.reason)
