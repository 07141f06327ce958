"""The dashboard's files, under /dashboard/ on the API's own origin so its scripts call the
API with the user's token and no cross-origin rules.

Every file goes out with a Content-Security-Policy that allows scripts, styles and
connections from this origin only and no inline script, so text a job carries (its name,
a frame's log) can never run as code in the page."""
import os

import bottle

DASHBOARD_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "dashboard")
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' blob:; connect-src 'self'; form-action 'none'; "
                           "frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY,
                    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                    # A new version of the dashboard is picked up at the next load.
                    "Cache-Control": "no-cache"}


def install(app, config):
    # The bare address, as a researcher types it, opens the dashboard.
    @app.get("/", skip=["db"])
    @app.get("/dashboard", skip=["db"])
    def to_the_dashboard():
        bottle.redirect("/dashboard/", 302)

    @app.get("/dashboard/", skip=["db"])
    @app.get("/dashboard/<name:path>", skip=["db"])
    def dashboard_file(name="index.html"):
        answer = bottle.static_file(name, root=DASHBOARD_DIR)
        for header, value in SECURITY_HEADERS.items():
            answer.set_header(header, value)
        return answer
