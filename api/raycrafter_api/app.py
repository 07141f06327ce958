"""The WSGI application factory.

Production: ``waitress-serve ... --call raycrafter_api.app:create_app_from_env`` with
``RAYCRAFTER_API_CONFIG`` naming the TOML configuration. The factory binds the database
and refuses to start unless the schema is current (``raycrafter-admin migrate``).
"""
import functools
import logging
import os

import bottle
from raycrafter_contract.naming import MAX_FRAME_NUMBER

from . import config as config_module
from . import job_records
from .database import db, migrations
from .http import (routes_admin, routes_agent, routes_dashboard, routes_meta, routes_sender,
                   routes_site, routes_user, routes_webhook_secret, routes_worker)
from .http.errors import ProblemPlugin, render_error
from .metrics import exposition


class DatabaseConnectionPlugin:
    """Open a database connection for each request and close it afterwards."""
    name = "db"
    api = 2

    def apply(self, callback, route):
        @functools.wraps(callback)
        def wrapper(*args, **kwargs):
            with db.connection():
                return callback(*args, **kwargs)
        return wrapper


def create_app(config):
    """Build the application for a validated ``Config``."""
    db.bind(config.database_url)
    with db.connection():
        migrations.check_current()
    os.makedirs(os.path.join(config.data_dir, "tmp"), exist_ok=True)
    app = bottle.Bottle(catchall=True)
    app.default_error_handler = render_error
    app.install(DatabaseConnectionPlugin())
    app.install(ProblemPlugin())
    # A frame number in a path (<number:frame>) has at most as many digits as the largest:
    # a longer one names no frame (404), and never reaches the database as an integer
    # too large for its column.
    app.router.add_filter("frame", lambda _: (rf"[0-9]{{1,{len(str(MAX_FRAME_NUMBER))}}}", int, str))
    for routes in (routes_meta, routes_sender, routes_user, routes_admin, routes_webhook_secret,
                   routes_agent, routes_worker, routes_site, routes_dashboard):
        routes.install(app, config)
    return app


def create_app_from_env():
    """Entry point for waitress-serve: configuration from ``RAYCRAFTER_API_CONFIG``."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = config_module.load_from_env()
    job_records.ship(config, "raycrafter-api")
    app = create_app(config)
    if config.metrics_listen:
        exposition.serve(config.metrics_listen, config, with_database=True)
    return app
