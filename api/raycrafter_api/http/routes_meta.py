"""Health and the OpenAPI document: the only endpoints without a token."""
from ..database.db import connection, database
from ..outbox import broker
from . import httpio, openapi
from .errors import ApiError


def install(app, config):
    # The health check opens its own connection so that a database outage is a 503.
    @app.get("/api/v1/health", skip=["db"])
    def health():
        checks = {"database": _database_status(),
                  "broker": (broker.reachable(config.amqp_url, config.amqp_ca_file) or "ok") if config.amqp_url
                  else "not_configured"}
        if any(status not in ("ok", "not_configured") for status in checks.values()):
            raise ApiError(503, "unavailable", "a dependency is unreachable", checks)
        return httpio.send_json({"status": "ok", **checks})

    @app.get("/api/v1/openapi.json")
    def openapi_document():
        return httpio.send_json(openapi.document())


def _database_status():
    try:
        with connection():
            database.execute_sql("SELECT 1").fetchone()
    except Exception as error:  # the reason is reported, not raised
        return f"{type(error).__name__}: {error}".strip()
    return "ok"
