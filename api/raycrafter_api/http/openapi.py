"""The OpenAPI 3.1 document: the machine-readable contract (docs/protocol.md explains it).

``tests/api/test_api_openapi.py`` checks that it validates and that its paths are exactly the
application's routes.
"""
from raycrafter_contract.animation import POVRAY_OPTIONS
from raycrafter_contract.naming import (DEFAULT_SCENE_FILE, MAX_CLAIM_FRAMES, MAX_HOLDER_CHARS,
                                       MAX_IMAGE_SIDE, MAX_PAGE)
from raycrafter_contract.scenes import ACCEPTED_ENDINGS, KINDS as KIND_ENDINGS
from raycrafter_contract.states import FRAME_STATES, JOB_STATES

from ..jobs.worker_reports import EXIT_STATUS_MAX, EXIT_STATUS_MIN, WORKER_TARGETS

ERROR_CODES = {"400": "Invalid field (details.field names it)", "401": "No or unknown token",
               "403": "This principal may not call this endpoint",
               "404": "Not found (another user's job is not found either)",
               "409": "Conflict: illegal transition, stale lease, ...",
               "413": "Body too large", "415": "Wrong Content-Type"}


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


JOB_ID = _path_param("job_id", "The job's id")
FRAME = _path_param("number", "The frame number")
PAGE = (_query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "Page size"),
        _query("offset", {"type": "integer", "minimum": 0}, "Items to skip"))


def _page_of(key, item):
    return {"type": "object", "required": [key, "total", "limit", "offset", "next_offset"],
            "properties": {key: {"type": "array", "items": item},
                           "total": {"type": "integer"}, "limit": {"type": "integer"},
                           "offset": {"type": "integer"},
                           "next_offset": {"type": ["integer", "null"]}}}


def _schemas():
    time = {"type": "string", "format": "date-time"}
    nullable_str = {"type": ["string", "null"]}
    sha256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
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
    animation = {"type": "object", "description": "The POV-Ray animation the frames belong "
                                                  "to: a frame's clock is its place in it",
                 "properties": {"initial_frame": {"type": "integer"},
                                "final_frame": {"type": "integer"},
                                "initial_clock": {"type": "number"},
                                "final_clock": {"type": "number"},
                                "cyclic": {"type": "boolean"}}}
    job_properties = {
        "id": {"type": "integer"}, "name": {"type": "string"}, "owner": {"type": "string"},
        "state": {"enum": list(JOB_STATES)}, "error": nullable_str,
        "frames": {"type": "object", "properties": {
            "first": {"type": "integer"}, "last": {"type": "integer"},
            "step": {"type": "integer"}, "count": {"type": "integer"}}},
        "animation": animation,
        "progress": {"type": "object", "properties": {
            s: {"type": "integer"} for s in FRAME_STATES}},
        "width": {"type": "integer"}, "height": {"type": "integer"},
        "renderer": {"type": "string"}, "options": _ref("Options"),
        "cluster": {"type": "string"},
        "scene": {"type": "object", "properties": {
            "kind": {"enum": [kind for kind, _ in KIND_ENDINGS]}, "size": {"type": "integer"},
            "checksum": sha256}},
        "created_at": time, "updated_at": time}
    return {
        "Error": {"type": "object", "required": ["error", "message", "details"],
                  "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                                 "details": {"type": ["object", "null"]}}},
        "Options": {"type": "object", "additionalProperties": False,
                    "properties": option_schemas,
                    "description": "Renderer options (an allow-list)"},
        "Job": {"type": "object", "required": list(job_properties),
                "properties": job_properties},
        "JobFull": {"allOf": [_ref("Job"), {"type": "object", "properties": {
            "submit_attempt": {"type": "integer"}, "batch_name": nullable_str,
            "batch_job_id": nullable_str, "scene_file": {"type": "string"}}}]},
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
        "AgentJob": {"type": "object", "properties": {
            "id": {"type": "integer"}, "width": {"type": "integer"},
            "height": {"type": "integer"},
            "frames": {"type": "object", "properties": {
                "first": {"type": "integer"}, "last": {"type": "integer"},
                "step": {"type": "integer"}}},
            "animation": animation,
            "renderer": {"type": "string"}, "options": _ref("Options"),
            "scene_file": {"type": "string"}}},
        "ClaimAnswer": {"oneOf": [
            {"type": "object", "required": ["status", "frame", "attempt", "lease", "job"],
             "properties": {"status": {"const": "leased"}, "frame": {"type": "integer"},
                            "frames": {"type": "array", "items": {"type": "integer"},
                                       "minItems": 1,
                                       "description": "The chunk: consecutive frames under "
                                                      "one lease, the first being `frame`"},
                            "attempt": {"type": "integer"},
                            "lease": {"type": "object", "properties": {
                                "id": {"type": "string"}, "expires_at": time,
                                "seconds": {"type": "integer"}}},
                            "job": _ref("AgentJob")}},
            {"type": "object", "required": ["status", "retry_after"],
             "properties": {"status": {"const": "wait"}, "retry_after": {"type": "integer"}}},
            {"type": "object", "required": ["status"],
             "properties": {"status": {"enum": ["finished", "cancelled"]}}}]},
        "FrameState": {"type": "object", "properties": {
            "frame_state": {"enum": list(FRAME_STATES)}}},
        "LeaseOnly": {"type": "object", "required": ["lease_id"],
                      "properties": {"lease_id": {"type": "string"}}},
    }


def _user_paths():
    job_ok = _ok("The job", _ref("Job"))
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
                        "description": "JSON object matching the Options schema"}}}}}
    return {
        "/api/v1/jobs/upload-check": {
            "get": _op("May the caller submit? (nginx asks before reading an upload)", True,
                       {"description": "Yes"}, "401", "403", ok_status="204")},
        "/api/v1/jobs": {
            "post": _op("Create a job from a scene upload", True,
                        _ok("Created", _ref("Job")), "400", "401", "403", "413", "415",
                        body=multipart, ok_status="201"),
            "get": _op("List jobs (own; admins see all)", True,
                       _ok("A page of jobs", _page_of("jobs", _ref("Job"))), "400", "401",
                       "403", params=(_query("state", {"enum": list(JOB_STATES)},
                                             "Only jobs in this state"), *PAGE))},
        "/api/v1/jobs/{job_id}": {
            "get": _op("One job", True, job_ok, "401", "403", "404", params=(JOB_ID,))},
        "/api/v1/jobs/{job_id}/cancel": {
            "post": _op("Cancel a job", True, job_ok, "401", "403", "404", "409",
                        params=(JOB_ID,))},
        "/api/v1/jobs/{job_id}/events": {
            "get": _op("The job's state changes", True,
                       _ok("A page of events", _page_of("events", _ref("Event"))),
                       "400", "401", "403", "404", params=(JOB_ID, *PAGE))},
        "/api/v1/jobs/{job_id}/frames": {
            "get": _op("The job's frames", True,
                       _ok("A page of frames", _page_of("frames", _ref("Frame"))),
                       "400", "401", "403", "404", params=(JOB_ID, *PAGE))},
        "/api/v1/jobs/{job_id}/frames/{number}": {
            "get": _op("A frame's image", True,
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
    }


def _agent_paths():
    def frame_call(summary, required, extra, ok):
        schema = {"type": "object", "required": ["lease_id", *required],
                  "properties": {"lease_id": {"type": "string"}, **extra}}
        return {"post": _op(summary, True, ok, "400", "401", "403", "404", "409", "415",
                            body=_json(schema), params=(JOB_ID, FRAME), tag="agent")}
    frame_state = _ok("The frame's new state", _ref("FrameState"))
    text = {"type": "string"}
    return {
        "/api/v1/agent/jobs/{job_id}/claim": {
            "post": _op("Lease the next pending frames (a chunk)", True,
                        _ok("A lease, or wait/finished/cancelled", _ref("ClaimAnswer")),
                        "400", "401", "403", "415", tag="agent",
                        body=_json({"type": "object", "required": ["holder"],
                                    "properties": {"holder": {
                                        "type": "string", "minLength": 1,
                                        "maxLength": MAX_HOLDER_CHARS},
                                        "max_frames": {
                                            "type": "integer", "minimum": 1,
                                            "maximum": MAX_CLAIM_FRAMES, "default": 1,
                                            "description": "The most frames this agent "
                                                           "renders under one lease"}}}),
                        params=(JOB_ID,))},
        "/api/v1/agent/jobs/{job_id}/frames/{number}/heartbeat": frame_call(
            "Extend a lease", [], {},
            _ok("The new expiry", {"type": "object", "properties": {
                "expires_at": {"type": "string", "format": "date-time"}}})),
        "/api/v1/agent/jobs/{job_id}/frames/{number}/complete": frame_call(
            "Report a rendered frame", ["render_seconds", "checksum", "size"],
            {"render_seconds": {"type": "number", "minimum": 0},
             "checksum": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
             "size": {"type": "integer", "minimum": 1}, "log_tail": text}, frame_state),
        "/api/v1/agent/jobs/{job_id}/frames/{number}/fail": frame_call(
            "Report a failed attempt", ["reason"], {"reason": text, "log_tail": text},
            frame_state),
        "/api/v1/agent/jobs/{job_id}/frames/{number}/release": frame_call(
            "Hand a frame back without counting an attempt", [], {}, frame_state),
    }


def _worker_paths():
    full = _ok("The job", _ref("JobFull"))
    return {
        "/api/v1/worker/jobs": {
            "get": _op("Jobs by cluster and state", True,
                       _ok("Matching jobs", {"type": "object", "properties": {
                           "jobs": {"type": "array", "items": _ref("JobFull")}}}),
                       "400", "401", "403", tag="worker",
                       params=(_query("cluster", {"type": "string"}, "Cluster name"),
                               _query("state", {"type": "array",
                                                "items": {"enum": list(JOB_STATES)}},
                                      "Repeat for several states", explode=True)))},
        "/api/v1/worker/jobs/{job_id}": {
            "get": _op("One job", True, full, "401", "403", "404", tag="worker",
                       params=(JOB_ID,))},
        "/api/v1/worker/jobs/{job_id}/input": {
            "get": _op("The uploaded scene", True, {
                "description": "The scene bytes",
                "headers": {"X-Scene-Kind": {"schema": {"enum": ["pov", "tar.gz", "zip"]}},
                            "X-Checksum-Sha256": {"schema": {"type": "string"}}},
                "content": {"application/octet-stream": {}}},
                "401", "403", "404", tag="worker", params=(JOB_ID,))},
        "/api/v1/worker/jobs/{job_id}/submissions": {
            "post": _op("Record a submission attempt before calling the scheduler", True,
                        _ok("The attempt", {"type": "object", "properties": {
                            "attempt": {"type": "integer"}, "batch_name": {"type": "string"},
                            "agent_token": {"type": "string"},
                            "resumed": {"type": "boolean", "description": "The open attempt "
                                        "(recorded, never reported submitted) again"}}}),
                        "401", "403", "404", "409", "415", tag="worker", ok_status="201",
                        body=_json({"type": "object"}), params=(JOB_ID,))},
        "/api/v1/worker/jobs/{job_id}/transition": {
            "post": _op("Move a job to the state the worker's own step reached (a batch "
                        "job's end is reported to batch-ended instead)", True, full,
                        "400", "401", "403", "404", "409", "415", tag="worker",
                        body=_json({"type": "object", "required": ["to"], "properties": {
                            "to": {"enum": list(WORKER_TARGETS)},
                            "batch_job_id": {"type": "string", "minLength": 1,
                                             "maxLength": 128},
                            "reason": {"type": "string"},
                            "attempt": {"type": "integer", "minimum": 1, "description":
                                        "The submission attempt the report is about; "
                                        "409 stale_attempt once the job is on a newer one"}}}),
                        params=(JOB_ID,))},
        "/api/v1/worker/jobs/{job_id}/batch-ended": {
            "post": _op("Report that a submission attempt's batch job ended; the API "
                        "decides what follows: submitted again (staging) while frames are "
                        "left, failed after max_submissions, else nothing changes", True,
                        full, "400", "401", "403", "404", "409", "415", tag="worker",
                        body=_json({"type": "object", "required": ["attempt"], "properties": {
                            "attempt": {"type": "integer", "minimum": 1, "description":
                                        "The submission attempt whose batch job ended; "
                                        "409 stale_attempt once the job is on a newer one"},
                            "batch_job_id": {"type": "string", "minLength": 1,
                                             "maxLength": 128},
                            "reason": {"type": "string", "description":
                                       "What the scheduler showed (state, lost)"},
                            "exit_status": {"type": ["integer", "null"],
                                            "minimum": EXIT_STATUS_MIN,
                                            "maximum": EXIT_STATUS_MAX,
                                            "description": "The batch script's, if known"}}}),
                        params=(JOB_ID,))},
        "/api/v1/worker/jobs/{job_id}/frames/uncollected": {
            "get": _op("Frames rendered whose image is not uploaded yet, lowest first", True,
                       _ok("What is left to collect", {
                           "type": "object", "required": ["frames", "total"],
                           "properties": {
                               "frames": {"type": "array", "items": {
                                   "type": "object", "properties": {
                                       "number": {"type": "integer"},
                                       "checksum": {"type": ["string", "null"]},
                                       "size": {"type": ["integer", "null"]}}}},
                               "total": {"type": "integer", "description":
                                         "How many are left in all (frames holds at "
                                         "most limit of them)"}}}),
                       "400", "401", "403", "404", tag="worker",
                       params=(JOB_ID, PAGE[0]))},
        "/api/v1/worker/jobs/{job_id}/frames/{number}/image": {
            "put": _op("Upload a rendered frame's image", True,
                       _ok("Stored", {"type": "object", "properties": {
                           "frame": {"type": "integer"}, "checksum": {"type": "string"}}}),
                       "400", "401", "403", "404", "409", "413", "415", tag="worker",
                       ok_status="201", body={"image/png": {}},
                       params=(JOB_ID, FRAME, {"name": "X-Checksum-Sha256", "in": "header",
                                               "required": True,
                                               "schema": {"type": "string"}}))},
    }


def _meta_paths():
    status = {"type": "object", "properties": {
        "status": {"const": "ok"}, "database": {"type": "string"},
        "broker": {"type": "string"}}}
    return {
        "/api/v1/health": {
            "get": _op("Database and broker reachable", False, _ok("Healthy", status), tag="meta")
            | {"responses": {"200": _ok("Healthy", status),
                             "503": {"description": "A dependency is unreachable",
                                     "content": _json(_ref("Error"))}}}},
        "/api/v1/openapi.json": {
            "get": _op("This document", False, _ok("OpenAPI 3.1", {"type": "object"}),
                       tag="meta")},
    }


def document():
    return {
        "openapi": "3.1.0",
        "info": {"title": "Raycrafter API", "version": "1.0.0",
                 "description": "Jobs, frames and leases. See docs/protocol.md."},
        "servers": [{"url": "/"}],
        "paths": {**_meta_paths(), **_user_paths(), **_agent_paths(), **_worker_paths()},
        "components": {
            "schemas": _schemas(),
            "responses": {f"E{status}": {"description": text, "content": _json(_ref("Error"))}
                          for status, text in ERROR_CODES.items()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "User, worker or agent token"}},
        },
    }
