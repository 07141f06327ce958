"""A recording HTTP proxy between a node agent and the API: every call the agent makes
(method, path, JSON body) is kept, and a claim's answer can be changed on its way back, to
play an API of an older agent protocol."""

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ApiRecorder:
    """``root`` is what the agent gets as --api-url; ``calls`` what it sent through."""

    def __init__(self, api_root, claim_answer=None):
        self._api_root = api_root
        self._claim_answer = claim_answer or (lambda answer: answer)
        self.calls = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                recorder._forward(self)

            do_GET = do_PUT = do_POST

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def root(self):
        return "http://127.0.0.1:%d" % self._server.server_address[1]

    def paths(self, ending):
        """The paths of the calls whose path ends with ``ending``."""
        return [path for _, path, _ in self.calls if path.endswith(ending)]

    def bodies(self, ending):
        return [body for _, path, body in self.calls if path.endswith(ending)]

    def _forward(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        data = handler.rfile.read(length) if length else None
        self.calls.append((handler.command, handler.path,
                           json.loads(data) if data else None))
        request = urllib.request.Request(
            self._api_root + handler.path, data=data, method=handler.command,
            headers={name: value for name, value in handler.headers.items()
                     if name.lower() in ("authorization", "content-type", "user-agent")})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        if handler.path.endswith("/claim") and status == 200:
            payload = json.dumps(self._claim_answer(json.loads(payload))).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()
