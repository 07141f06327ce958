"""Serving the metrics of an API or relay process on its metrics address.

In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set: the API's several waitress
processes) a scrape reads every process's files in the directory, whichever process
answers; otherwise it reads this process's registry. ``with_database`` adds what the
database knows (the API serves it; the relay, whose scrape must answer while the database
does not, leaves it out).
"""
import os

from prometheus_client import CollectorRegistry, make_wsgi_app, multiprocess

from raycrafter_contract.utilities import metrics_endpoint

from . import series
from .database_gauges import DatabaseGauges


def registry(with_database):
    scraped = CollectorRegistry()
    if os.environ.get(metrics_endpoint.DIRECTORY_VARIABLE):
        multiprocess.MultiProcessCollector(scraped)
    else:
        scraped.register(series.REGISTRY)
    if with_database:
        scraped.register(DatabaseGauges())
    return scraped


def serve(listen, config, with_database):
    """Serve this process's metrics on ``listen`` (HOST:PORT), over TLS when the
    configuration names a certificate. Returns the server."""
    return metrics_endpoint.serve(make_wsgi_app(registry(with_database)), listen,
                                  config.metrics_tls_certificate or None,
                                  config.metrics_tls_key or None)
