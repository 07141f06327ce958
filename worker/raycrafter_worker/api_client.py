"""The worker's side of the HTTP contract with the API (docs/protocol.md, worker calls),
over the contract's HTTP helper.

Standard library only (urllib): the worker makes a handful of calls per job, so a
dependency buys nothing. What is transient is the contract's retry rule (no answer, 5xx,
429, ...); 409 becomes ApiConflict with the API's error code; anything else is permanent,
but a refused token (401): the token file is read again and the call made with the new
token, and while the file holds the refused one the call is transient, since no job is at
fault and an operator replacing the token mends it. A site agent (site_agent.py) makes
the same calls, and its own few (``site_commands``, ``command_done``, ``take_open_jobs``).
"""
import hashlib
import logging
import os
import threading
import urllib.parse

from raycrafter_contract.naming import MAX_REASON_CHARS
from raycrafter_contract.utilities.http_client import ApiConnection, CallFailed, ErrorAnswer
from raycrafter_contract.wire.endpoints import API_PATH, CHECKSUM_HEADER, SCENE_KIND_HEADER
from raycrafter_contract.wire.jobs import WorkerJobList, WorkerJobView
from raycrafter_contract.wire.site_calls import (OpenJobsRequest, SiteCommand, SiteCommands,
                                                 TakenJobs)
from raycrafter_contract.wire.worker_calls import (BatchEndedReport, ServiceLogCredential,
                                                   StoredImage, Submission, TransitionReport,
                                                   UncollectedFrames)

from .errors import ApiConflict, PermanentError, TransientError

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 60
USER_AGENT = "raycrafter-worker"
DOWNLOAD_CHUNK = 1 << 20


class ApiClient:
    def __init__(self, base_url, token_file, ca_file=None):
        self._base_url = base_url.rstrip("/") + API_PATH
        self._token_file = token_file
        self._ca_file = ca_file
        self._guard = threading.Lock()
        self._token = self._read_token()
        self._api = self._connection(self._token)
        self.base = self._api.base_url

    def list_jobs(self, cluster, states):
        query = urllib.parse.urlencode([("cluster", cluster)] + [("state", s) for s in states])
        return self._call("GET", f"/worker/jobs?{query}", answer=WorkerJobList).jobs

    def get_job(self, job_id):
        return self._call("GET", f"/worker/jobs/{int(job_id)}", answer=WorkerJobView)

    def record_submission(self, job_id):
        return self._call("POST", f"/worker/jobs/{int(job_id)}/submissions", {},
                          answer=Submission)

    def transition(self, job_id, to, batch_job_id=None, reason=None, attempt=None):
        report = TransitionReport(to, _text(batch_job_id), _reason(reason),
                                  None if attempt is None else int(attempt))
        return self._call("POST", f"/worker/jobs/{int(job_id)}/transition", report,
                          answer=WorkerJobView)

    def batch_ended(self, job_id, attempt, batch_job_id=None, reason=None, exit_status=None):
        """Report what a poll saw: the batch job of ``attempt`` ended. The API decides what
        follows and answers with the job."""
        report = BatchEndedReport(int(attempt), _text(batch_job_id), _reason(reason),
                                  exit_status)
        return self._call("POST", f"/worker/jobs/{int(job_id)}/batch-ended", report,
                          answer=WorkerJobView)

    def download_input(self, job_id, path):
        """Save the scene to ``path``; returns its kind. The checksum header is verified."""
        where = f"/worker/jobs/{int(job_id)}/input"
        with self._open("GET", where) as response:
            kind = response.headers.get(SCENE_KIND_HEADER, "")
            expected = (response.headers.get(CHECKSUM_HEADER) or "").lower()
            digest = hashlib.sha256()
            with open(path, "wb") as f:
                while chunk := self._read(response, "GET", where, DOWNLOAD_CHUNK):
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
        ``limit``) and how many there are in all."""
        return self._call("GET", f"/worker/jobs/{int(job_id)}/frames/uncollected"
                                 f"?limit={int(limit)}", answer=UncollectedFrames)

    def log_credential(self):
        """The credential this worker's (or site agent's) own records about jobs go to the
        log server with (job_records.py)."""
        return self._call("GET", "/worker/log-credential", answer=ServiceLogCredential)

    def upload_frame(self, job_id, number, path, checksum):
        where = f"/worker/jobs/{int(job_id)}/frames/{int(number)}/image"
        headers = {"Content-Type": "image/png", "Content-Length": str(os.path.getsize(path)),
                   CHECKSUM_HEADER: checksum}

        def upload(api):
            with open(path, "rb") as body:
                return api.send("PUT", where, body, headers, StoredImage)
        return self._failures_sorted(upload)

    def site_commands(self):
        """The commands for the site agent's cluster not carried out yet, oldest first."""
        return self._call("GET", "/site/commands", answer=SiteCommands).commands

    def command_done(self, command_id):
        return self._call("POST", f"/site/commands/{urllib.parse.quote(command_id)}/done",
                          {}, answer=SiteCommand)

    def take_open_jobs(self, max_jobs):
        """Open jobs, now the site agent's cluster's; their ids."""
        return self._call("POST", "/site/open-jobs", OpenJobsRequest(int(max_jobs)),
                          answer=TakenJobs).jobs

    def _call(self, method, path, body=None, answer=None):
        return self._failures_sorted(lambda api: api.call(method, path, body, answer))

    def _open(self, method, path, data=None, headers=None):
        return self._failures_sorted(lambda api: api.open(method, path, data, headers))

    def _read(self, response, method, path, size=-1):
        return self._failures_sorted(lambda api: api.read(response, method, path, size))

    def _failures_sorted(self, call):
        api = self._api
        try:
            return call(api)
        except CallFailed as failure:
            if not (isinstance(failure, ErrorAnswer) and failure.status == 401):
                raise _classified(failure) from None
            refused = failure
        if not self._token_replaced(api):
            raise TransientError(f"{refused}; the API refuses the token in "
                                 f"{self._token_file}: waiting for a new one there") from None
        try:
            return call(self._api)
        except CallFailed as failure:
            raise _classified(failure) from None

    def _token_replaced(self, refused_with):
        """Read the token file again after ``refused_with`` was refused: True when it holds
        another token, which the calls use from now on."""
        with self._guard:
            if self._api is not refused_with:  # another thread read it meanwhile
                return True
            try:
                token = self._read_token()
            except PermanentError as error:  # being replaced: the next call reads it again
                log.warning("%s", error)
                return False
            if token == self._token:
                return False
            log.info("the API refused the token; using the new one in %s", self._token_file)
            self._token, self._api = token, self._connection(token)
            return True

    def _read_token(self):
        try:
            with open(self._token_file, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as error:
            raise PermanentError(f"cannot read the API token file {self._token_file}: "
                                 f"{error.strerror}") from None
        if not token:
            raise PermanentError(f"the API token file {self._token_file} is empty")
        return token

    def _connection(self, token):
        return ApiConnection(self._base_url, token, self._ca_file, TIMEOUT_SECONDS, USER_AGENT)



def _classified(failure):
    if isinstance(failure, ErrorAnswer) and failure.status == 409:
        return ApiConflict(failure.body.error, str(failure), failure.body.details)
    if failure.transient:
        return TransientError(str(failure), failure.retry_after)
    return PermanentError(str(failure))


def _text(value):
    return None if value is None else str(value)


def _reason(reason):
    return None if reason is None else reason[:MAX_REASON_CHARS]
