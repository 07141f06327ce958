"""A user's webhook secret, which their job-end webhooks are signed with: shown to them
(made on first asking) and rotated."""
from ..database.db import write_transaction
from ..notify import webhook_secrets
from . import httpio
from .routes_user import USERS


def install(app, config):
    @app.get("/api/v1/webhook-secret")
    def show_secret():
        caller = httpio.principal(*USERS)
        with write_transaction():
            return httpio.send_json({"secret": webhook_secrets.secret_of(caller.user_id)})

    @app.post("/api/v1/webhook-secret/rotate")
    def rotate_secret():
        caller = httpio.principal(*USERS)
        with write_transaction():
            return httpio.send_json({"secret": webhook_secrets.rotate(caller.user_id)})
