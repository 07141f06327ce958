"""TLS to RabbitMQ, as the API and the worker both open it.

An ``amqps://`` URL means TLS with the broker's certificate and host name verified: against
the given CA file (the deployment's CA between hosts), or the system's store without one.
A plain ``amqp://`` URL is for loopback. The caller wraps the result in pika.SSLOptions
(this package is the standard library only).
"""
import ssl
import urllib.parse
from typing import Optional, Tuple


def broker_tls(url: str, ca_file: Optional[str] = None) -> Optional[Tuple[ssl.SSLContext, str]]:
    """(context, server host name) for an amqps:// URL, None for amqp://."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "amqps":
        return None
    context = ssl.create_default_context(cafile=ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context, parts.hostname
