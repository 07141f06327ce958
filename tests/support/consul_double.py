"""A double of a Consul agent's HTTP API, on loopback.

No Consul agent can run on these machines (neither Debian, PyPI nor npm ships one), so the
Consul path is tested against this stand-in. It implements only the endpoints the
appliance uses, with the JSON shapes of Consul's API (developer.hashicorp.com/consul/
api-docs: agent/service, health, catalog):

  PUT /v1/agent/service/register          (keys in any case, as Consul decodes them)
  PUT /v1/agent/service/deregister/:id
  GET /v1/agent/services
  GET /v1/health/service/:name[?passing]
  GET /v1/catalog/service/:name

It runs no checks itself (a TCP check of a registered address would send traffic off this
host): a test sets each check's status with `set_status`, and a new check starts
`critical`, as in Consul. Instances of other hosts are added with `add_instance`.
"""
import http.server
import json
import threading
import urllib.parse

DATACENTER = "dc1"


class ConsulDouble:
    """One agent (node ``node``) and the catalog it sees."""

    def __init__(self, node="this-host", node_address="127.0.0.1"):
        self.node, self.node_address = node, node_address
        self.instances = {}  # (node, service id) -> instance
        self.index = 1
        self.requests = []
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # A short poll: shutting the double down waits for one, once per test.
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def add_instance(self, node, node_address, service, port, status="passing", address="",
                     meta=None):
        """An instance another host's agent registered."""
        with self._lock:
            self._store(node, node_address, {"ID": service, "Service": service, "Port": port,
                                             "Address": address, "Tags": [], "Meta": meta or {}},
                        [{"CheckID": f"service:{service}", "Status": status,
                          "Definition": {"TCP": f"{address or node_address}:{port}"}}])

    def add_host_instance(self, node, node_address, service, port, status="passing"):
        """An instance registered as the appliance's states register one
        (salt/common/consul.jinja): under the host's name, its address in the Meta."""
        self.add_instance(node, node_address, service, port, status=status, address=node,
                          meta={"raycrafter_host_address": node_address})

    def set_status(self, service_id, status, node=None):
        with self._lock:
            for check in self.instances[(node or self.node, service_id)]["checks"]:
                check["Status"] = status
            self.index += 1

    def local_services(self):
        return {key[1]: instance for key, instance in self.instances.items()
                if key[0] == self.node}

    def _store(self, node, node_address, service, checks):
        key = (node, service["ID"])
        known = {check["CheckID"]: check["Status"]
                 for check in self.instances.get(key, {}).get("checks", [])}
        for check in checks:
            check.update({"Node": node, "ServiceID": service["ID"],
                          "ServiceName": service["Service"],
                          "Name": f"Service '{service['Service']}' check",
                          "Status": check.get("Status") or known.get(check["CheckID"], "critical")})
        self.instances[key] = {"node": node, "node_address": node_address,
                               "service": service, "checks": checks}
        self.index += 1

    # The API, as Consul answers it.

    def register(self, body):
        body = _folded(body)
        service_id = body.get("id") or body["name"]
        definitions = body.get("checks") or ([body["check"]] if body.get("check") else [])
        checks = [{"CheckID": f"service:{service_id}" + (f":{n}" if len(definitions) > 1 else ""),
                   "Definition": definition} for n, definition in enumerate(definitions, 1)]
        service = {"ID": service_id, "Service": body["name"], "Tags": body.get("tags") or [],
                   "Meta": body.get("meta") or {}, "Port": body.get("port", 0),
                   "Address": body.get("address", ""), "EnableTagOverride": False,
                   "Weights": {"Passing": 1, "Warning": 1}, "Datacenter": DATACENTER}
        self._store(self.node, self.node_address, service, checks)

    def deregister(self, service_id):
        if self.instances.pop((self.node, service_id), None) is None:
            return 404, f"Unknown service ID {service_id!r}. Ensure that the service ID is passed, not the service name."
        self.index += 1
        return 200, None

    def agent_services(self):
        return {service_id: instance["service"]
                for service_id, instance in self.local_services().items()}

    def health_service(self, name, passing):
        entries = []
        for instance in self._instances_of(name):
            checks = [{"Node": instance["node"], "CheckID": "serfHealth",
                       "Name": "Serf Health Status", "Status": "passing", "ServiceID": "",
                       "ServiceName": ""}]
            checks += [{key: value for key, value in check.items() if key != "Definition"}
                       for check in instance["checks"]]
            if passing and any(check["Status"] != "passing" for check in checks):
                continue
            entries.append({"Node": self._node(instance), "Service": instance["service"],
                            "Checks": checks})
        return entries

    def catalog_service(self, name):
        return [{"ID": "", "Node": instance["node"], "Address": instance["node_address"],
                 "Datacenter": DATACENTER, "TaggedAddresses": {}, "NodeMeta": {},
                 "ServiceID": instance["service"]["ID"],
                 "ServiceName": instance["service"]["Service"],
                 "ServiceTags": instance["service"]["Tags"],
                 "ServiceAddress": instance["service"]["Address"],
                 "ServicePort": instance["service"]["Port"],
                 "ServiceMeta": instance["service"]["Meta"],
                 "ServiceEnableTagOverride": False,
                 "CreateIndex": self.index, "ModifyIndex": self.index}
                for instance in self._instances_of(name)]

    def _instances_of(self, name):
        return [instance for _, instance in sorted(self.instances.items())
                if instance["service"]["Service"] == name]

    def _node(self, instance):
        return {"ID": "", "Node": instance["node"], "Address": instance["node_address"],
                "Datacenter": DATACENTER, "TaggedAddresses": {}, "Meta": {},
                "CreateIndex": 1, "ModifyIndex": 1}

    def _handler(self):
        double = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path, query = self._parts()
                with double._lock:
                    if path == "/v1/agent/services":
                        return self._answer(200, double.agent_services())
                    if path.startswith("/v1/health/service/"):
                        name = urllib.parse.unquote(path.rsplit("/", 1)[1])
                        return self._answer(200, double.health_service(name, "passing" in query))
                    if path.startswith("/v1/catalog/service/"):
                        name = urllib.parse.unquote(path.rsplit("/", 1)[1])
                        return self._answer(200, double.catalog_service(name))
                self._answer(404, None)

            def do_PUT(self):
                path, _ = self._parts()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with double._lock:
                    if path == "/v1/agent/service/register":
                        try:
                            double.register(json.loads(body))
                        except (ValueError, KeyError) as error:
                            return self._answer(400, f"Request decode failed: {error}")
                        return self._answer(200, None)
                    if path.startswith("/v1/agent/service/deregister/"):
                        return self._answer(*double.deregister(path.rsplit("/", 1)[1]))
                self._answer(404, None)

            def _parts(self):
                parts = urllib.parse.urlsplit(self.path)
                double.requests.append((self.command, parts.path))
                return parts.path, urllib.parse.parse_qs(parts.query, keep_blank_values=True)

            def _answer(self, status, data):
                body = b"" if data is None else (
                    data.encode() if isinstance(data, str) else json.dumps(data).encode())
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(
                    data, str) else "text/plain; charset=utf-8")
                self.send_header("X-Consul-Index", str(double.index))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler


def _folded(value):
    """Consul decodes a registration's keys case-insensitively (python-consul sends
    lower case, the documentation shows Title case); Meta's keys are the user's own."""
    if not isinstance(value, dict):
        return [_folded(item) for item in value] if isinstance(value, list) else value
    return {key.lower(): (item if key.lower() == "meta" else _folded(item))
            for key, item in value.items()}
