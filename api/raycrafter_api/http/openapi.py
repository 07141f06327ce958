"""The OpenAPI 3.1 document: the machine-readable contract (docs/protocol.md explains it).

Every answer and report that has a wire record in the contract is described by that record
(``record_schemas.py``), with what its types cannot say added per field here.
``tests/api/test_api_openapi.py`` checks that the document validates, that its paths are
exactly the application's routes and that each record and its schema agree.
"""
from raycrafter_contract.animation import POVRAY_OPTIONS
from raycrafter_contract.naming import (DEFAULT_SCENE_FILE, MAX_CLAIM_FRAMES, MAX_HOLDER_CHARS,
                                       MAX_FRAME_NUMBER, MAX_IMAGE_SIDE, MAX_PAGE)
from raycrafter_contract.scenes import ACCEPTED_ENDINGS, KINDS as KIND_ENDINGS
from raycrafter_contract.states import FRAME_STATES, JOB_STATES
from raycrafter_contract.wire.agent_calls import (AGENT_PROTOCOL, AgentJob, ClaimEnded,
                                                  ClaimLeased, ClaimRequest, ClaimWait,
                                                  CompleteReport, FailReport, FrameDone,
                                                  FrameStateAnswer, HeartbeatAnswer,
                                                  LeaseReport, LeaseReports,
                                                  LeaseReportsAnswer, LeaseTerms)
from raycrafter_contract.wire.endpoints import CHECKSUM_HEADER, SCENE_KIND_HEADER
from raycrafter_contract.wire.errors import ErrorBody
from raycrafter_contract.wire.jobs import (JobPage, JobView, SceneView, WorkerJobList,
                                           WorkerJobView)
from raycrafter_contract.wire.site_calls import (OpenJobsRequest, SiteCommand, SiteCommands,
                                                 TakenJobs)
from raycrafter_contract.wire.worker_calls import (EXIT_STATUS_MAX, EXIT_STATUS_MIN,
                                                   BatchEndedReport, ServiceLogCredential,
                                                   StoredImage, Submission,
                                                   TransitionReport, UncollectedFrames)

from ..appliance_health.overview import WINDOWS
from ..frames.frame_cursor import CURSOR_PATTERN
from ..jobs.open_jobs import MAX_TAKEN
from .record_schemas import RecordSchemas

ERROR_CODES = {"400": "Invalid field (details.field names it)", "401": "No or unknown token",
               "403": "This principal may not call this endpoint",
               "404": "Not found (another user's job is not found either)",
               "409": "Conflict: illegal transition, stale lease, ...",
               "413": "Body too large", "415": "Wrong Content-Type",
               "503": "A service the answer comes from does not answer (Prometheus)"}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema):
    return {"application/json": {"schema": schema}}


def _errors(*statuses):
    return {status: {"$ref": f"#/components/responses/E{status}"} for status in statuses}


def _op(summary, security, ok, *errors, body=None, params=(), ok_status="200", tag="users"):
    operation = {"summary": summary, "tags": [tag],
                 "responses": {ok_status: ok, **_errors(*errors)}}
    operation["security"] = [{"bearer": []}] if security else []
    if body:
        operation["requestBody"] = {"required": True, "content": body}
    if params:
        operation["parameters"] = list(params)
    return operation


def _ok(description, schema=None, content=None):
    response = {"description": description}
    if schema is not None:
        response["content"] = _json(schema)
    if content is not None:
        response["content"] = content
    return response


def _path_param(name, description):
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "integer"}}


def _query(name, schema, description, explode=None):
    param = {"name": name, "in": "query", "required": False, "description": description,
             "schema": schema}
    if explode is not None:
        param["explode"] = explode
    return param


def _revalidated(operation):
    """An answer with an ETag, and 304 without a body when ``If-None-Match`` holds it."""
    operation["parameters"] = [*operation.get("parameters", ()), {
        "name": "If-None-Match", "in": "header", "required": False,
        "description": "The ETag of the copy the client holds", "schema": {"type": "string"}}]
    operation["responses"]["304"] = {"description": "Not modified: the copy the client "
                                                    "holds (If-None-Match) is current"}
    return operation


JOB_ID = _path_param("job_id", "The job's id")
FRAME = _path_param("number", "The frame number")
PAGE = (_query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "Page size"),
        _query("offset", {"type": "integer", "minimum": 0}, "Items to skip"))


def _page_of(key, item, **more):
    """A page of ``key`` (pagination.page), with ``more`` properties beside."""
    return {"type": "object",
            "required": [key, "total", "limit", "offset", "next_offset", *more],
            "properties": {key: {"type": "array", "items": item},
                           "total": {"type": "integer"}, "limit": {"type": "integer"},
                           "offset": {"type": "integer"},
                           "next_offset": {"type": ["integer", "null"]}, **more}}


TIME = {"format": "date-time"}
SHA256 = {"pattern": "^[0-9a-f]{64}$"}
FRAME_CURSOR = {"type": "string", "pattern": f"^{CURSOR_PATTERN}$",
                "description": "Opaque: give it back as `after` for the frames written since "
                               "this answer; a poll that pages keeps its first page's"}
BATCH_JOB_ID = {"minLength": 1, "maxLength": 128}


def _refinements():
    """What the records' types cannot say, per record and field."""
    options = _ref("Options")
    return {
        JobView: {"options": options, "created_at": TIME, "updated_at": TIME,
                  "progress": {"properties": {s: {"type": "integer"} for s in FRAME_STATES}}},
        SceneView: {"kind": {"enum": [kind for kind, _ in KIND_ENDINGS]}, "checksum": SHA256},
        AgentJob: {"options": options},
        LeaseTerms: {"expires_at": TIME},
        HeartbeatAnswer: {"expires_at": TIME},
        ClaimLeased: {"frames": {"minItems": 1, "description": "The chunk: consecutive "
                                 "frames under one lease, the first being `frame`"},
                      "protocol": {"minimum": 1, "maximum": AGENT_PROTOCOL,
                                   "description": "The agent protocol the API speaks: 2 "
                                                  "takes reports of several frames "
                                                  "(/reports); an API that sends none, 1"}},
        ClaimRequest: {"holder": {"minLength": 1, "maxLength": MAX_HOLDER_CHARS},
                       "max_frames": {"minimum": 1, "maximum": MAX_CLAIM_FRAMES, "default": 1,
                                      "description": "The most frames this agent renders "
                                                     "under one lease"}},
        CompleteReport: {"render_seconds": {"minimum": 0}, "checksum": SHA256,
                         "size": {"minimum": 1}},
        FrameDone: {"render_seconds": {"minimum": 0}, "checksum": SHA256,
                    "size": {"minimum": 1}},
        LeaseReports: {"done": {"maxItems": MAX_CLAIM_FRAMES},
                       "failed": {"maxItems": MAX_CLAIM_FRAMES},
                       "released": {"maxItems": MAX_CLAIM_FRAMES}},
        TransitionReport: {"batch_job_id": BATCH_JOB_ID, "attempt": {
            "minimum": 1, "description": "The submission attempt the report is about; 409 "
                                         "stale_attempt once the job is on a newer one"}},
        SiteCommand: {"created_at": TIME},
        OpenJobsRequest: {"max_jobs": {"minimum": 1, "maximum": MAX_TAKEN}},
        BatchEndedReport: {
            "attempt": {"minimum": 1, "description": "The submission attempt whose batch job "
                        "ended; 409 stale_attempt once the job is on a newer one"},
            "batch_job_id": BATCH_JOB_ID,
            "reason": {"description": "What the scheduler showed (state, lost)"},
            "exit_status": {"minimum": EXIT_STATUS_MIN, "maximum": EXIT_STATUS_MAX,
                            "description": "The batch script's, if known"}},
    }


def _schemas():
    """The schemas no wire record describes: the renderer options' allow-list, and what
    only users read (events, frames)."""
    time = {"type": "string", **TIME}
    nullable_str = {"type": ["string", "null"]}
    option_schemas = {}
    for name, (kind, low, high) in POVRAY_OPTIONS.items():
        if kind is bool:
            option_schemas[name] = {"type": "boolean"}
        elif kind is dict:
            option_schemas[name] = {"type": "object", "additionalProperties": {
                "type": "number"}}
        else:
            option_schemas[name] = {"type": "integer" if kind is int else "number",
                                    "minimum": low, "maximum": high}
    return {
        "Options": {"type": "object", "additionalProperties": False,
                    "properties": option_schemas,
                    "description": "Renderer options (an allow-list)"},
        "Event": {"type": "object", "properties": {
            "id": {"type": "integer"}, "at": time, "actor": {"type": "string"},
            "frame": {"type": ["integer", "null"]}, "from": nullable_str,
            "to": {"type": "string"}, "reason": nullable_str}},
        "Frame": {"type": "object", "properties": {
            "number": {"type": "integer"}, "state": {"enum": list(FRAME_STATES)},
            "attempts": {"type": "integer"}, "holder": nullable_str,
            "lease_expires_at": {"type": ["string", "null"]},
            "render_seconds": {"type": ["number", "null"]},
            "checksum": {"type": ["string", "null"]}, "size": {"type": ["integer", "null"]},
            "error": nullable_str, "image_available": {"type": "boolean"},
            "updated_at": time}},
        "User": {"type": "object", "required": ["id", "name", "role", "created_at",
                                                 "disabled_at", "active_tokens"],
                 "additionalProperties": False, "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"},
            "role": {"enum": ["user", "admin"]}, "created_at": time,
            "disabled_at": {"type": ["string", "null"], **TIME,
                            "description": "Since when its tokens are refused"},
            "active_tokens": {"type": "integer",
                              "description": "Tokens neither revoked nor expired"}}},
        "Token": {"type": "object", "required": ["id", "user", "prefix", "managed",
                                                  "created_at", "expires_at", "revoked_at"],
                  "additionalProperties": False, "properties": {
            "id": {"type": "integer"}, "user": {"type": "string"},
            "prefix": {"type": "string", "description": "The token's first characters, "
                                                        "which name it"},
            "managed": {"type": "boolean", "description": "Installed by Salt (token ensure)"},
            "created_at": time, "expires_at": {"type": ["string", "null"], **TIME},
            "revoked_at": {"type": ["string", "null"], **TIME}}},
    }


def _user_paths(records):
    job = records.ref(JobView)
    job_ok = _ok("The job", job)
    multipart = {"multipart/form-data": {"schema": {
        "type": "object", "required": ["scene", "name"],
        "properties": {
            "scene": {"type": "string", "contentMediaType": "application/octet-stream",
                      "description": "A .pov file, or an archive of a scene folder; the "
                                     "file name's ending gives its kind: "
                                     + ", ".join(ACCEPTED_ENDINGS)},
            "scene_file": {"type": "string", "maxLength": 255,
                           "description": f"The main scene file inside the archive. Default: "
                                          f"{DEFAULT_SCENE_FILE}, else the only .pov file at "
                                          f"the scene's top"},
            "ini_file": {"type": "string", "description": "The POV-Ray INI file inside the "
                         "archive whose animation, frames, size and quality settings the job "
                         "follows where the fields are silent. Default: the one whose "
                         "Input_File_Name is the main file, else the main file's namesake "
                         "(scene.ini)"},
            "name": {"type": "string", "maxLength": 200},
            "frames": {"type": "string", "description": "The frames to render: 7, 1-24 or "
                       "1-100:5. Default: the INI file's subset, else the whole animation"},
            "initial_frame": {"type": "integer", "minimum": 0},
            "final_frame": {"type": "integer", "minimum": 0},
            "initial_clock": {"type": "number"},
            "final_clock": {"type": "number"},
            "cyclic": {"type": "boolean", "description": "The animation (POV-Ray's "
                       "Initial_Frame, Final_Frame, Initial_Clock, Final_Clock, "
                       "Cyclic_Animation): the fields, else the INI file, else the frames "
                       "asked for with the clock from 0 to 1"},
            "width": {"type": "integer", "minimum": 1, "maximum": MAX_IMAGE_SIDE,
                      "description": "Default: the INI file's Width, else 640"},
            "height": {"type": "integer", "minimum": 1, "maximum": MAX_IMAGE_SIDE,
                       "description": "Default: the INI file's Height, else 480"},
            "renderer": {"enum": ["povray"], "default": "povray"},
            "cluster": {"type": "string", "description": "Defaults to default_cluster"},
            "options": {"type": "string", "contentMediaType": "application/json",
                        "description": "JSON object matching the Options schema"},
            "notify_url": {"type": "string", "format": "uri", "maxLength": 2000,
                           "description": "An http(s) URL POSTed to, signed the Standard "
                                          "Webhooks way with the user's webhook secret, when "
                                          "the job ends; only public addresses and the "
                                          "networks in notify_allowed_networks"},
            "notify_email": {"type": "string", "format": "email", "maxLength": 254,
                             "description": "An address e-mailed when the job ends"}}}}}
    secret = _ok("The user's webhook secret", {
        "type": "object", "required": ["secret"],
        "properties": {"secret": {"type": "string", "pattern": "^whsec_[A-Za-z0-9+/=]+$"}}})
    return {
        "/api/v1/me": {
            "get": _op("Who the token stands for", True, _ok("The caller", {
                "type": "object", "required": ["name", "role"], "additionalProperties": False,
                "properties": {"name": {"type": "string"},
                               "role": {"enum": ["user", "admin"]}}}), "401", "403")},
        "/api/v1/jobs": {
            "post": _op("Create a job from a scene upload", True,
                        _ok("Created", job), "400", "401", "403", "413", "415",
                        body=multipart, ok_status="201"),
            "get": _revalidated(_op(
                "List jobs, newest first (own; admins see all)", True,
                _ok("A page of jobs", records.ref(JobPage)), "400", "401", "403",
                params=(_query("state", {"enum": list(JOB_STATES)}, "Only jobs in this state"),
                        _query("name", {"type": "string"},
                               "Only jobs whose name contains this (any case)"),
                        _query("owner", {"type": "string"},
                               "Only jobs of the user of this name"), *PAGE)))},
        "/api/v1/jobs/{job_id}": {
            "get": _revalidated(_op("One job", True, job_ok, "401", "403", "404",
                                    params=(JOB_ID,)))},
        "/api/v1/jobs/{job_id}/cancel": {
            "post": _op("Cancel a job", True, job_ok, "401", "403", "404", "409",
                        params=(JOB_ID,))},
        "/api/v1/jobs/{job_id}/events": {
            "get": _revalidated(_op(
                "The job's state changes", True,
                _ok("A page of events", _page_of("events", _ref("Event"))),
                "400", "401", "403", "404", params=(JOB_ID, *PAGE)))},
        "/api/v1/jobs/{job_id}/frames": {
            "get": _revalidated(_op(
                "The job's frames by number", True,
                _ok("A page of frames", _page_of(
                    "frames", _ref("Frame"), cursor=FRAME_CURSOR,
                    next_number={"type": ["integer", "null"],
                                 "description": "Give it as `from_number` for the next page "
                                                "of a poll; null after the last"})),
                "400", "401", "403", "404",
                params=(JOB_ID, _query("after", FRAME_CURSOR,
                                       "Only frames written since the answer that gave "
                                       "this cursor"),
                        _query("until", FRAME_CURSOR,
                               "Only frames written before the answer that gave this "
                               "cursor: a poll's later pages give its first page's"),
                        _query("from_number", {"type": "integer", "minimum": 0,
                                               "maximum": MAX_FRAME_NUMBER},
                               "Frames numbered from this one on: a poll pages by number"),
                        *PAGE)))},
        "/api/v1/jobs/{job_id}/frames/{number}": {
            "get": _op("A frame's image", True,
                       _ok("The PNG", content={"image/png": {}}),
                       "401", "403", "404", params=(JOB_ID, FRAME))},
        "/api/v1/jobs/{job_id}/frames/{number}/thumbnail": {
            "get": _op("A small copy of a frame's image (at most 320 pixels a side)", True,
                       _ok("The PNG", content={"image/png": {}}),
                       "401", "403", "404", params=(JOB_ID, FRAME))},
        "/api/v1/jobs/{job_id}/frames/{number}/log": {
            "get": _op("A frame's log tail", True,
                       _ok("The log tail", content={"text/plain": {}}),
                       "401", "403", "404", params=(JOB_ID, FRAME))},
        "/api/v1/jobs/{job_id}/archive": {
            "get": _op("A zip of every collected frame", True,
                       _ok("The zip", content={"application/zip": {}}),
                       "401", "403", "404", "409", params=(JOB_ID,))},
        "/api/v1/webhook-secret": {
            "get": _op("The secret the caller's webhooks are signed with", True, secret,
                       "401", "403")},
        "/api/v1/webhook-secret/rotate": {
            "post": _op("Replace the caller's webhook secret", True, secret, "401", "403")},
    }


def _admin_paths(records):
    user_id = _path_param("user_id", "The user's id")
    issued = {"type": "object", "required": ["token"], "properties": {
        "token": {"type": "string", "description": "The new token: shown this once only"}}}
    return {
        "/api/v1/admin/users": {
            "get": _revalidated(_op(
                "Every user", True, _ok("The users", {
                    "type": "object", "required": ["users"],
                    "properties": {"users": {"type": "array", "items": _ref("User")}}}),
                "401", "403", tag="admin")),
            "post": _op("Add a user with a first token", True, _ok("Created", {
                **issued, "required": ["user", "token"],
                "properties": {**issued["properties"], "user": _ref("User")}}),
                "400", "401", "403", "409", "415", tag="admin", ok_status="201",
                body=_json({"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"},
                    "role": {"enum": ["user", "admin"], "default": "user"}}}))},
        "/api/v1/admin/users/{user_id}/tokens": {
            "post": _op("Issue another token for a user", True, _ok("Created", {
                **issued, "required": ["user", "token"],
                "properties": {**issued["properties"], "user": {"type": "string"}}}),
                "401", "403", "404", tag="admin", ok_status="201", params=(user_id,))},
        "/api/v1/admin/tokens": {
            "get": _revalidated(_op(
                "Every user token, newest first", True, _ok("The tokens", {
                    "type": "object", "required": ["tokens"],
                    "properties": {"tokens": {"type": "array", "items": _ref("Token")}}}),
                "401", "403", tag="admin"))},
        "/api/v1/admin/tokens/{token_id}/revoke": {
            "post": _op("Revoke a user token", True, _ok("The revoked token", _ref("Token")),
                        "401", "403", "404", "409", tag="admin",
                        params=(_path_param("token_id", "The token's id"),))},
        "/api/v1/admin/queue": {
            "get": _revalidated(_op(
                "Unfinished jobs by cluster and state, and commands not yet sent", True,
                _ok("The queue", {
                    "type": "object", "additionalProperties": False,
                    "required": ["clusters", "jobs", "unsent_commands",
                                 "oldest_unsent_command_at"],
                    "properties": {
                        "clusters": {"type": "object", "additionalProperties": {
                            "type": "object", "additionalProperties": {"type": "integer"}}},
                        "jobs": {"type": "array", "items": records.ref(WorkerJobView),
                                 "description": "The oldest unfinished jobs"},
                        "unsent_commands": {"type": "integer"},
                        "oldest_unsent_command_at": {"type": ["string", "null"], **TIME}}}),
                "401", "403", tag="admin"))},
        "/api/v1/admin/health": {
            "get": _revalidated(_op(
                "The appliance's health as Prometheus measures it (docs/dashboard.md)", True,
                _ok("Jobs by state now, graphs over the window, hosts, alerts",
                    _APPLIANCE_HEALTH),
                "400", "401", "403", "503", tag="admin",
                params=(_query("window", {"enum": list(WINDOWS), "default": "1h"},
                               "The time the graphs cover"),)))},
    }


_POINTS = {"type": "array", "items": {"type": "array", "prefixItems": [
    {"type": "number", "description": "Unix time"}, {"type": "number"}]}}
_APPLIANCE_HEALTH = {
    "type": "object", "additionalProperties": False,
    "required": ["window", "start", "end", "step", "prometheus", "jobs", "graphs", "hosts",
                 "alerts"],
    "properties": {
        "window": {"enum": list(WINDOWS)}, "start": {"type": "number"},
        "end": {"type": "number"}, "step": {"type": "number"},
        "prometheus": {"type": "string", "description": "The Prometheus asked"},
        "jobs": {"type": "object", "additionalProperties": {"type": "integer"},
                 "description": "Jobs in each state now"},
        "graphs": {"type": "array", "items": {
            "type": "object", "required": ["name", "title", "unit", "lines"],
            "properties": {
                "name": {"type": "string"}, "title": {"type": "string"},
                "unit": {"type": "string"},
                "lines": {"type": "array", "items": {
                    "type": "object", "required": ["label", "points", "latest"],
                    "properties": {"label": {"type": "string"}, "points": _POINTS,
                                   "latest": {"type": ["number", "null"],
                                              "description": "The value at the window's "
                                                             "end, if Prometheus had one"}}}}}}},
        "hosts": {"type": "array", "items": {
            "type": "object", "required": ["host", "targets", "disks"],
            "properties": {
                "host": {"type": "string"},
                "targets": {"type": "array", "items": {
                    "type": "object", "required": ["job", "instance", "up"],
                    "properties": {"job": {"type": "string"}, "instance": {"type": "string"},
                                   "up": {"type": "boolean"}}}},
                "disks": {"type": "array", "items": {
                    "type": "object", "required": ["mountpoint"],
                    "properties": {"mountpoint": {"type": "string"},
                                   "available_bytes": {"type": "number"},
                                   "size_bytes": {"type": "number"}}}}}}},
        "alerts": {"type": "array", "items": {
            "type": "object", "required": ["name", "state", "severity", "summary", "since",
                                           "labels"],
            "properties": {
                "name": {"type": "string"}, "state": {"enum": ["firing", "pending"]},
                "severity": {"type": "string"}, "summary": {"type": "string"},
                "since": {"type": ["string", "null"], **TIME},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}}}}}}}


def _agent_paths(records):
    def frame_call(summary, report, ok):
        return {"post": _op(summary, True, ok, "400", "401", "403", "404", "409", "415",
                            body=_json(records.body(report)), params=(JOB_ID, FRAME),
                            tag="agent")}
    frame_state = _ok("The frame's new state", records.ref(FrameStateAnswer))
    return {
        "/api/v1/agent/jobs/{job_id}/claim": {
            "post": _op("Lease the next pending frames (a chunk)", True,
                        _ok("A lease, or wait/finished/cancelled", {"oneOf": [
                            records.ref(ClaimLeased), records.ref(ClaimWait),
                            records.ref(ClaimEnded)]}),
                        "400", "401", "403", "415", tag="agent",
                        body=_json(records.body(ClaimRequest)), params=(JOB_ID,))},
        "/api/v1/agent/jobs/{job_id}/frames/{number}/heartbeat": frame_call(
            "Extend a lease", LeaseReport, _ok("The new expiry", records.ref(HeartbeatAnswer))),
        "/api/v1/agent/jobs/{job_id}/frames/{number}/complete": frame_call(
            "Report a rendered frame", CompleteReport, frame_state),
        "/api/v1/agent/jobs/{job_id}/frames/{number}/fail": frame_call(
            "Report a failed attempt", FailReport, frame_state),
        "/api/v1/agent/jobs/{job_id}/frames/{number}/release": frame_call(
            "Hand a frame back without counting an attempt", LeaseReport, frame_state),
        "/api/v1/agent/jobs/{job_id}/reports": {
            "post": _op("Report several frames of one lease: rendered, failed, handed back "
                        f"(protocol 2; 1 to {MAX_CLAIM_FRAMES} frames, each once)", True,
                        _ok("Each frame's outcome", records.ref(LeaseReportsAnswer)),
                        "400", "401", "403", "413", "415", tag="agent",
                        body=_json(records.body(LeaseReports)), params=(JOB_ID,))},
    }


def _worker_paths(records):
    full = _ok("The job", records.ref(WorkerJobView))
    return {
        "/api/v1/worker/jobs": {
            "get": _op("Jobs by cluster and state", True,
                       _ok("Matching jobs", records.ref(WorkerJobList)),
                       "400", "401", "403", tag="worker",
                       params=(_query("cluster", {"type": "string"}, "Cluster name"),
                               _query("state", {"type": "array",
                                                "items": {"enum": list(JOB_STATES)}},
                                      "Repeat for several states", explode=True)))},
        "/api/v1/worker/log-credential": {
            "get": _op("The caller's credential for its own records about jobs at the log "
                       "server", True, _ok("The credential", records.ref(ServiceLogCredential)),
                       "401", "403", "404", tag="worker")},
        "/api/v1/worker/jobs/{job_id}": {
            "get": _op("One job", True, full, "401", "403", "404", tag="worker",
                       params=(JOB_ID,))},
        "/api/v1/worker/jobs/{job_id}/input": {
            "get": _op("The uploaded scene", True, {
                "description": "The scene bytes",
                "headers": {SCENE_KIND_HEADER: {"schema": {
                                "enum": [kind for kind, _ in KIND_ENDINGS]}},
                            CHECKSUM_HEADER: {"schema": {"type": "string"}}},
                "content": {"application/octet-stream": {}}},
                "401", "403", "404", tag="worker", params=(JOB_ID,))},
        "/api/v1/worker/jobs/{job_id}/submissions": {
            "post": _op("Record a submission attempt before calling the scheduler", True,
                        _ok("The attempt", records.ref(Submission)),
                        "401", "403", "404", "409", "415", tag="worker", ok_status="201",
                        body=_json({"type": "object"}), params=(JOB_ID,))},
        "/api/v1/worker/jobs/{job_id}/transition": {
            "post": _op("Move a job to the state the worker's own step reached (a batch "
                        "job's end is reported to batch-ended instead)", True, full,
                        "400", "401", "403", "404", "409", "415", tag="worker",
                        body=_json(records.body(TransitionReport)), params=(JOB_ID,))},
        "/api/v1/worker/jobs/{job_id}/batch-ended": {
            "post": _op("Report that a submission attempt's batch job ended; the API "
                        "decides what follows: submitted again (staging) while frames are "
                        "left, failed after max_submissions, else nothing changes", True,
                        full, "400", "401", "403", "404", "409", "415", tag="worker",
                        body=_json(records.body(BatchEndedReport)), params=(JOB_ID,))},
        "/api/v1/worker/jobs/{job_id}/frames/uncollected": {
            "get": _op("Frames rendered whose image is not uploaded yet, lowest first", True,
                       _ok("What is left to collect", records.ref(UncollectedFrames)),
                       "400", "401", "403", "404", tag="worker",
                       params=(JOB_ID, PAGE[0]))},
        "/api/v1/worker/jobs/{job_id}/frames/{number}/image": {
            "put": _op("Upload a rendered frame's image", True,
                       _ok("Stored", records.ref(StoredImage)),
                       "400", "401", "403", "404", "409", "413", "415", tag="worker",
                       ok_status="201", body={"image/png": {}},
                       params=(JOB_ID, FRAME, {"name": CHECKSUM_HEADER, "in": "header",
                                               "required": True,
                                               "schema": {"type": "string"}}))},
    }


def _site_paths(records):
    command = _path_param("command_id", "The command's id")
    command["schema"] = {"type": "string"}
    return {
        "/api/v1/site/commands": {
            "get": _op("The commands for the site agent's cluster not carried out yet, "
                       "oldest first", True, _ok("The commands", records.ref(SiteCommands)),
                       "400", "401", "403", tag="site", params=(PAGE[0],))},
        "/api/v1/site/commands/{command_id}/done": {
            "post": _op("The site agent carried the command out: it is not handed out "
                        "again", True, _ok("The command", records.ref(SiteCommand)),
                        "401", "403", "404", "415", tag="site",
                        body=_json({"type": "object"}), params=(command,))},
        "/api/v1/site/open-jobs": {
            "post": _op("Take up to max_jobs of the oldest open pending jobs for the site "
                        "agent's cluster", True, _ok("The jobs taken", records.ref(TakenJobs)),
                        "400", "401", "403", "415", tag="site",
                        body=_json(records.body(OpenJobsRequest)))},
    }


def _meta_paths(error):
    status = {"type": "object", "properties": {
        "status": {"const": "ok"}, "database": {"type": "string"},
        "broker": {"type": "string"}}}
    return {
        "/api/v1/health": {
            "get": _op("Database and broker reachable", False, _ok("Healthy", status), tag="meta")
            | {"responses": {"200": _ok("Healthy", status),
                             "503": {"description": "A dependency is unreachable",
                                     "content": _json(error)}}}},
        "/api/v1/sender-check": {
            "get": _op("May the caller send a body to the path in X-Original-URI? (nginx "
                       "asks before it reads one)", True, {"description": "Yes"}, "401",
                       "403", ok_status="204", tag="meta",
                       params=[{"name": "X-Original-URI", "in": "header", "required": False,
                                "schema": {"type": "string"}}])},
        "/api/v1/openapi.json": {
            "get": _op("This document", False, _ok("OpenAPI 3.1", {"type": "object"}),
                       tag="meta")},
    }


def document():
    records = RecordSchemas(_refinements())
    error = records.ref(ErrorBody)
    paths = {**_meta_paths(error), **_user_paths(records), **_admin_paths(records),
             **_agent_paths(records), **_worker_paths(records), **_site_paths(records)}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Raycrafter API", "version": "1.0.0",
                 "description": "Jobs, frames and leases. See docs/protocol.md."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {**_schemas(), **records.components()},
            "responses": {f"E{status}": {"description": text, "content": _json(error)}
                          for status, text in ERROR_CODES.items()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "User, worker, agent or site "
                                                          "agent token"}},
        },
    }
