"""A webhook receiver of a test's own for Alertmanager's notifications, and the pillar that
points the monitoring role's Alertmanager at it (tests/monitoring, tests/hosts).

The alert rules are applied as shipped: only where Alertmanager sends, and how soon it
tells (group_wait, group_interval), are overridden, so a test waits for the rule's own
`for` and little more."""
import http.server
import json
import threading

from support.polling import wait_for

WORKER_DOWN = "RaycrafterWorkerDown"
# Prometheus needs a scrape and an evaluation (15 s each) to see the worker gone, then the
# rule's `for: 2m`, then an evaluation to fire; Alertmanager then tells within group_wait.
FIRING_WITHIN = 240
# A scrape and an evaluation to see the worker back, then group_interval.
RESOLVED_WITHIN = 90


def receiver_pillar(url):
    """The pillar override under which Alertmanager tells URL of every alert at once."""
    return {"raycrafter": {"monitoring": {"webhooks": [url], "group_wait": "1s",
                                          "group_interval": "1s"}}}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.notifications.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


class AlertReceiver(http.server.ThreadingHTTPServer):
    """Alertmanager's webhook receiver on ADDRESS (a free port): keeps every notification
    (Alertmanager's JSON) it is sent. Serve it with support.loopback_http.serving."""

    daemon_threads = True

    def __init__(self, address):
        self.lock = threading.Lock()
        self.notifications = []
        super().__init__((address, 0), _Handler)

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/alerts"

    def statuses(self, alertname):
        """The status ("firing", "resolved") of ALERTNAME in each notification, in order."""
        with self.lock:
            return [alert["status"] for notification in self.notifications
                    for alert in notification["alerts"]
                    if alert["labels"].get("alertname") == alertname]

    def wait_for_status(self, alertname, status, timeout):
        """Wait until the last notification of ALERTNAME says STATUS; return its labels."""
        def told():
            with self.lock:
                alerts = [alert for notification in self.notifications
                          for alert in notification["alerts"]
                          if alert["labels"].get("alertname") == alertname]
            return alerts and alerts[-1]["status"] == status and alerts[-1]["labels"]
        return wait_for(told, timeout=timeout, interval=1,
                        message=f"Alertmanager to tell the receiver {alertname} is {status}")
