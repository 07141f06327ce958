"""An administrator's endpoints under /api/v1/admin: users, their tokens, the queue, the
appliance's health."""
import bottle

from ..accounts import users
from ..appliance_health.overview import Overview
from ..jobs import queue
from . import httpio


def install(app, config):
    overview = Overview(config.prometheus_url, config.prometheus_ca_file,
                        config.prometheus_timeout_seconds, config.prometheus_cache_seconds)

    @app.get("/api/v1/admin/users")
    def list_users():
        httpio.principal("admin")
        return httpio.send_json_revalidated({"users": users.users()})

    @app.post("/api/v1/admin/users")
    def add_user():
        httpio.principal("admin")
        body = httpio.json_body()
        role = body.get("role", "user")
        user, token = users.add_user(body.get("name"), role)
        return httpio.send_json({"user": users.user_view(user, 1), "token": token}, 201)

    @app.post("/api/v1/admin/users/<user_id:int>/tokens")
    def create_token(user_id):
        httpio.principal("admin")
        user, token = users.create_token(user_id)
        return httpio.send_json({"user": user.name, "token": token}, 201)

    @app.get("/api/v1/admin/tokens")
    def list_tokens():
        httpio.principal("admin")
        return httpio.send_json_revalidated({"tokens": users.tokens()})

    @app.post("/api/v1/admin/tokens/<token_id:int>/revoke")
    def revoke_token(token_id):
        httpio.principal("admin")
        token = users.revoke_token(token_id)
        return httpio.send_json(users.token_view(token, token.user.name))

    @app.get("/api/v1/admin/queue")
    def job_queue():
        httpio.principal("admin")
        return httpio.send_json_revalidated(queue.overview())

    @app.get("/api/v1/admin/health")
    def appliance_health():
        httpio.principal("admin")
        return httpio.send_json_revalidated(overview.of(bottle.request.query.get("window", "1h")))
