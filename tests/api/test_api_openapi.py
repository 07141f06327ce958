"""The OpenAPI document validates and describes exactly the routes the app serves."""
import re

from openapi_spec_validator import validate

from raycrafter_api import app as app_module, config as config_module


def bottle_routes(config_values):
    application = app_module.create_app(config_module.from_dict(config_values))
    routes = set()
    for route in application.routes:
        path = re.sub(r"<(\w+)(:[^>]*)?>", r"{\1}", route.rule)
        routes.add((route.method.lower(), path))
    return routes


def test_document_validates_and_matches_routes(api, config_values):
    document = api.client().get("/openapi.json").json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    documented = {(method, path) for path, item in document["paths"].items()
                  for method in item}
    assert documented == bottle_routes(config_values)


def test_every_operation_documents_its_errors_and_auth(api):
    document = api.client().get("/openapi.json").json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            public = path in ("/api/v1/health", "/api/v1/openapi.json")
            assert bool(operation["security"]) is not public, (method, path)
            if not public:
                assert "401" in operation["responses"] and "403" in operation["responses"]
