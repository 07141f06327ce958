"""What nginx asks before it reads a request's body: may this sender send one there?

nginx reads no byte of a body before this route said yes (``auth_request``, with the
request's ``Authorization`` header and its path in ``X-Original-URI``): a stranger's body,
or one sent where its token may not call, is refused unread, and nginx answers in the
error shape itself. A yes only lets the body be read; the route's own handler then
authenticates and authorizes the request as always.

Every report of a node agent has a body, so each costs the API this question too. Who a
token names is therefore remembered here for ``REMEMBERED_SECONDS``, in each API process
for itself: a token revoked meanwhile may still have a body read for that long, which its
route then refuses.
"""
import re
import threading
import time

import bottle

from .. import auth
from ..database.db import connection
from .errors import ApiError
from .httpio import WORKER_SIDE
from .routes_user import USERS

# Who may send a body where, by the path's beginning (the routes themselves check more);
# any known caller elsewhere.
SENDERS = (("/api/v1/agent/", ("agent",)), ("/api/v1/worker/", WORKER_SIDE),
           ("/api/v1/site/", ("site",)), ("/api/v1/jobs", USERS), ("/api/v1/admin/", ("admin",)))
REMEMBERED_SECONDS = 10.0
_REMEMBERED_MOST = 10_000
_AGENT_JOB = re.compile(r"^/api/v1/agent/jobs/(\d+)/")


class KnownSenders:
    """The principal each token named lately, by the token's hash."""

    def __init__(self):
        self._principals = {}
        self._guard = threading.Lock()

    def principal(self, header):
        key = auth.hash_token(header or "")
        remembered = self._principals.get(key)
        if remembered is not None and remembered[1] > time.monotonic():
            return remembered[0]
        with connection():
            principal = auth.authenticate(header)
        with self._guard:
            if len(self._principals) >= _REMEMBERED_MOST:
                self._principals.clear()
            self._principals[key] = (principal, time.monotonic() + REMEMBERED_SECONDS)
        return principal


def install(app, config):
    senders = KnownSenders()

    # Its own connection, and only when the token is not remembered.
    @app.get("/api/v1/sender-check", skip=["db"])
    def sender_check():
        caller = senders.principal(bottle.request.get_header("Authorization"))
        path = (bottle.request.get_header("X-Original-URI") or "").split("?", 1)[0]
        kinds = next((kinds for prefix, kinds in SENDERS if path.startswith(prefix)), ())
        if kinds:
            auth.require(caller, *kinds)
        job = _AGENT_JOB.match(path)
        if caller.kind == "agent" and job and int(job.group(1)) != caller.job_id:
            raise ApiError(403, "forbidden", "this agent token belongs to another job")
        bottle.response.status = 204
        return ""
