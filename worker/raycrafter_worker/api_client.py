"""The worker's side of the HTTP contract with the API (docs/protocol.md, worker calls).

Standard library only (urllib): the worker makes a handful of calls per job, so a
dependency buys nothing. Network failures, 5xx and 429 are transient; 409 becomes
ApiConflict with the API's error code; other 4xx answers are permanent.
"""
import hashlib
import json
import os
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request

from raycrafter_contract.naming import MAX_REASON_CHARS

from .errors import ApiConflict, PermanentError, TransientError

TIMEOUT_SECONDS = 60


class ApiClient:
    def __init__(self, base_url, token_file, ca_file=None):
        self.base = base_url.rstrip("/") + "/api/v1"
        with open(token_file, encoding="utf-8") as f:
            self._token = f.read().strip()
        if not self._token:
            raise PermanentError(f"the API token file {token_file} is empty")
        self._context = ssl.create_default_context(cafile=ca_file or None)

    def list_jobs(self, cluster, states):
        query = urllib.parse.urlencode([("cluster", cluster)] + [("state", s) for s in states])
        return self._json("GET", f"/worker/jobs?{query}")["jobs"]

    def get_job(self, job_id):
        return self._json("GET", f"/worker/jobs/{int(job_id)}")

    def record_submission(self, job_id):
        return self._json("POST", f"/worker/jobs/{int(job_id)}/submissions", {})

    def transition(self, job_id, to, batch_job_id=None, reason=None, attempt=None):
        body = {"to": to}
        if attempt is not None:
            body["attempt"] = int(attempt)
        if batch_job_id is not None:
            body["batch_job_id"] = str(batch_job_id)
        if reason is not None:
            body["reason"] = reason[:MAX_REASON_CHARS]
        return self._json("POST", f"/worker/jobs/{int(job_id)}/transition", body)

    def batch_ended(self, job_id, attempt, batch_job_id=None, reason=None, exit_status=None):
        """Report what a poll saw: the batch job of ``attempt`` ended. The API decides what
        follows and answers with the job."""
        body = {"attempt": int(attempt), "exit_status": exit_status}
        if batch_job_id is not None:
            body["batch_job_id"] = str(batch_job_id)
        if reason is not None:
            body["reason"] = reason[:MAX_REASON_CHARS]
        return self._json("POST", f"/worker/jobs/{int(job_id)}/batch-ended", body)

    def download_input(self, job_id, path):
        """Save the scene to ``path``; returns its kind. The checksum header is verified."""
        with self._open("GET", f"/worker/jobs/{int(job_id)}/input") as response:
            kind = response.headers.get("X-Scene-Kind", "")
            expected = (response.headers.get("X-Checksum-Sha256") or "").lower()
            digest = hashlib.sha256()
            with open(path, "wb") as f:
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    f.write(chunk)
        # A short read raises before this; a whole body with another checksum is the stored
        # scene itself, which no retry mends.
        if expected and digest.hexdigest() != expected:
            raise PermanentError(f"the scene stored for job {job_id} does not match the "
                                 f"checksum taken when it was submitted ({digest.hexdigest()} "
                                 f"!= {expected}); submit it again")
        return kind

    def uncollected_frames(self, job_id, limit):
        """The frames rendered whose image is not uploaded yet (lowest first, at most
        ``limit``) and how many there are in all: {"frames": [...], "total": N}."""
        return self._json("GET", f"/worker/jobs/{int(job_id)}/frames/uncollected"
                                 f"?limit={int(limit)}")

    def upload_frame(self, job_id, number, path, checksum):
        size = os.path.getsize(path)
        with open(path, "rb") as body:
            with self._open("PUT", f"/worker/jobs/{int(job_id)}/frames/{int(number)}/image",
                            data=body, headers={"Content-Type": "image/png",
                                                "Content-Length": str(size),
                                                "X-Checksum-Sha256": checksum}) as response:
                return json.load(response)

    def _json(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        with self._open(method, path, data=data, headers=headers) as response:
            return json.load(response)

    def _open(self, method, path, data=None, headers=None):
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Authorization": f"Bearer {self._token}",
                                                  "Accept": "application/json",
                                                  **(headers or {})})
        try:
            return urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS,
                                          context=self._context)
        except urllib.error.HTTPError as error:
            raise _from_http_error(method, path, error)
        except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as error:
            raise TransientError(f"the API is unreachable ({method} {path}): "
                                 f"{getattr(error, 'reason', error)}")


def _from_http_error(method, path, error):
    try:
        body = json.loads(error.read() or b"{}")
    except (ValueError, OSError):
        body = {}
    code = body.get("error", f"http_{error.code}")
    message = body.get("message", error.reason)
    text = f"the API answered {error.code} {code} to {method} {path}: {message}"
    if error.code == 409:
        return ApiConflict(code, text, body.get("details"))
    if error.code >= 500 or error.code == 429:
        return TransientError(text)
    return PermanentError(text)
