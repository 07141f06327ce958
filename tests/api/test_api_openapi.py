"""The OpenAPI document validates, describes exactly the routes the app serves, and
describes each answer and report exactly as its wire record in the contract."""
import dataclasses
import re
import typing

from openapi_spec_validator import validate

from raycrafter_api import app as app_module, config as config_module
from raycrafter_contract.wire.agent_calls import (ClaimEnded, ClaimLeased, ClaimRequest,
                                                  ClaimWait, CompleteReport, FailReport,
                                                  FrameStateAnswer, HeartbeatAnswer,
                                                  LeaseReport, LeaseReports,
                                                  LeaseReportsAnswer)
from raycrafter_contract.wire.errors import ErrorBody
from raycrafter_contract.wire.jobs import JobPage, JobView, WorkerJobList, WorkerJobView
from raycrafter_contract.wire.records import Record
from raycrafter_contract.wire.worker_calls import (BatchEndedReport, StoredImage, Submission,
                                                   TransitionReport, UncollectedFrames)


def bottle_routes(config_values):
    application = app_module.create_app(config_module.from_dict(config_values))
    routes = set()
    for route in application.routes:
        path = re.sub(r"<(\w+)(:[^>]*)?>", r"{\1}", route.rule)
        routes.add((route.method.lower(), path))
    return routes


def api_routes(config_values):
    """The routes of the API itself: the dashboard's files beside it are not its contract."""
    return {(method, path) for method, path in bottle_routes(config_values)
            if path.startswith("/api/")}


def test_document_validates_and_matches_routes(api, config_values):
    document = api.client().get("/openapi.json").json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    documented = {(method, path) for path, item in document["paths"].items()
                  for method in item}
    assert documented == api_routes(config_values)


def test_every_operation_documents_its_errors_and_auth(api):
    document = api.client().get("/openapi.json").json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            public = path in ("/api/v1/health", "/api/v1/openapi.json")
            assert bool(operation["security"]) is not public, (method, path)
            if not public:
                assert "401" in operation["responses"] and "403" in operation["responses"]


# Which wire record describes which body of the served document: answers by status, and
# reports by "request".
RECORDS = {
    ("post", "/api/v1/jobs", "201"): [JobView],
    ("get", "/api/v1/jobs", "200"): [JobPage],
    ("get", "/api/v1/jobs/{job_id}", "200"): [JobView],
    ("post", "/api/v1/agent/jobs/{job_id}/claim", "request"): [ClaimRequest],
    ("post", "/api/v1/agent/jobs/{job_id}/claim", "200"): [ClaimLeased, ClaimWait, ClaimEnded],
    ("post", "/api/v1/agent/jobs/{job_id}/frames/{number}/heartbeat", "request"): [LeaseReport],
    ("post", "/api/v1/agent/jobs/{job_id}/frames/{number}/heartbeat", "200"): [HeartbeatAnswer],
    ("post", "/api/v1/agent/jobs/{job_id}/frames/{number}/complete", "request"):
        [CompleteReport],
    ("post", "/api/v1/agent/jobs/{job_id}/frames/{number}/complete", "200"):
        [FrameStateAnswer],
    ("post", "/api/v1/agent/jobs/{job_id}/frames/{number}/fail", "request"): [FailReport],
    ("post", "/api/v1/agent/jobs/{job_id}/frames/{number}/release", "request"): [LeaseReport],
    ("post", "/api/v1/agent/jobs/{job_id}/reports", "request"): [LeaseReports],
    ("post", "/api/v1/agent/jobs/{job_id}/reports", "200"): [LeaseReportsAnswer],
    ("get", "/api/v1/worker/jobs", "200"): [WorkerJobList],
    ("get", "/api/v1/worker/jobs/{job_id}", "200"): [WorkerJobView],
    ("post", "/api/v1/worker/jobs/{job_id}/submissions", "201"): [Submission],
    ("post", "/api/v1/worker/jobs/{job_id}/transition", "request"): [TransitionReport],
    ("post", "/api/v1/worker/jobs/{job_id}/transition", "200"): [WorkerJobView],
    ("post", "/api/v1/worker/jobs/{job_id}/batch-ended", "request"): [BatchEndedReport],
    ("post", "/api/v1/worker/jobs/{job_id}/batch-ended", "200"): [WorkerJobView],
    ("get", "/api/v1/worker/jobs/{job_id}/frames/uncollected", "200"): [UncollectedFrames],
    ("put", "/api/v1/worker/jobs/{job_id}/frames/{number}/image", "201"): [StoredImage],
    ("get", "/api/v1/jobs/{job_id}", "404"): [ErrorBody],
    ("get", "/api/v1/health", "503"): [ErrorBody],
}
JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}


def resolved(document, schema):
    while "$ref" in schema:
        target = document
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def served_schema(document, method, path, status):
    operation = document["paths"][path][method]
    answer = (operation["requestBody"] if status == "request"
              else resolved(document, operation["responses"][status]))
    return resolved(document, answer["content"]["application/json"]["schema"])


def expected_types(kind):
    """The JSON types a value of annotation ``kind`` may take, and the record it is."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is typing.Union:
        types, record = expected_types(next(a for a in args if a is not type(None)))
        return types | {"null"}, record
    if origin is typing.Literal:
        return {JSON_TYPES[type(arg)] for arg in args}, None
    if origin is tuple:
        return {"array"}, expected_types(args[0])[1]
    if origin is dict or kind is typing.Any:
        return ({"object"} if origin is dict else set()), None
    if isinstance(kind, type) and issubclass(kind, Record):
        return {"object"}, kind
    return {JSON_TYPES[kind]}, None


def object_schema(document, schema):
    """The object schema inside a nullable one, or inside an array's items."""
    schema = resolved(document, schema)
    if "anyOf" in schema:
        schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
    if schema.get("type") == "array":
        schema = schema["items"]
    return resolved(document, schema)


def served_types(document, schema):
    schema = resolved(document, schema)
    if "anyOf" in schema:
        return set().union(*(served_types(document, s) for s in schema["anyOf"]))
    if "const" in schema or "enum" in schema:
        values = [schema["const"]] if "const" in schema else schema["enum"]
        return {JSON_TYPES[type(value)] for value in values}
    declared = schema.get("type", [])
    return set(declared if isinstance(declared, list) else [declared])


def assert_agrees(document, record, schema, where):
    fields = {f.name: f for f in dataclasses.fields(record)}
    hints = typing.get_type_hints(record)
    assert set(schema["properties"]) == set(fields), (where, record.__name__)
    required = {name for name, f in fields.items()
                if (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
                or (typing.get_origin(hints[name]) is typing.Literal
                    and len(typing.get_args(hints[name])) == 1)}
    assert set(schema.get("required", [])) == required, (where, record.__name__)
    if not where.endswith("request"):
        assert schema.get("additionalProperties") is False, (where, record.__name__)
    for name, kind in hints.items():
        types, nested = expected_types(kind)
        served = served_types(document, schema["properties"][name])
        omitted = fields[name].metadata.get("omit_when_none")
        assert served == (types - {"null"} if omitted else types), (where, name, served, types)
        if nested is not None:
            assert_agrees(document, nested, object_schema(document, schema["properties"][name]),
                          f"{where} {name}")


def test_every_record_field_is_in_the_served_schema_and_nothing_else(api):
    """The API answers with the contract's records and the clients read them so; the
    document served must describe exactly them, field by field and type by type."""
    document = api.client().get("/openapi.json").json()
    for (method, path, status), records in RECORDS.items():
        schema = served_schema(document, method, path, status)
        variants = ([resolved(document, s) for s in schema["oneOf"]] if "oneOf" in schema
                    else [schema])
        assert len(variants) == len(records), (method, path, status)
        for record, variant in zip(records, variants):
            assert_agrees(document, record, variant, f"{method} {path} {status}")
