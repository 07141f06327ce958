"""What nginx asks before it reads a request's body: may this sender send one there?

nginx reads no byte of a body before this route said yes (``auth_request``, with the
request's ``Authorization`` header and its path in ``X-Original-URI``): a stranger's body, or one sent where its token may not call, is
refused unread, and nginx answers in the error shape itself. A yes only lets the body be
read; the route's own handler still decides everything about the request.
"""
import re

import bottle

from . import httpio
from .errors import ApiError
from .routes_user import USERS

# Who may send a body where, by the path's beginning (the routes themselves check more);
# any known caller elsewhere.
SENDERS = (("/api/v1/agent/", ("agent",)), ("/api/v1/worker/", ("worker",)),
           ("/api/v1/jobs", USERS))
_AGENT_JOB = re.compile(r"^/api/v1/agent/jobs/(\d+)/")


def install(app, config):
    @app.get("/api/v1/sender-check")
    def sender_check():
        path = (bottle.request.get_header("X-Original-URI") or "").split("?", 1)[0]
        kinds = next((kinds for prefix, kinds in SENDERS if path.startswith(prefix)), ())
        caller = httpio.principal(*kinds) if kinds else httpio.known_caller()
        job = _AGENT_JOB.match(path)
        if caller.kind == "agent" and job and int(job.group(1)) != caller.job_id:
            raise ApiError(403, "forbidden", "this agent token belongs to another job")
        bottle.response.status = 204
        return ""
