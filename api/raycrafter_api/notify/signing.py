"""Signing webhooks as Standard Webhooks (https://www.standardwebhooks.com) describes, so a
receiver checks them with any of its libraries: the headers ``webhook-id``,
``webhook-timestamp`` (Unix seconds) and ``webhook-signature``, ``v1,`` followed by the
base64 HMAC-SHA256 of ``id.timestamp.body`` keyed with the secret's bytes (the base64
after ``whsec_``)."""
import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # 256 bits; the scheme asks for 24 to 64


def new_secret():
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(secret, message_id, timestamp, body):
    """The ``webhook-signature`` value of ``body`` (bytes) sent as ``message_id`` at
    ``timestamp`` (integer seconds)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret, message_id, timestamp, body):
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, message_id, timestamp, body)}
