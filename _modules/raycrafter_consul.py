"""The appliance's services in Consul's catalog, through python-consul.

Salt syncs this module from ``salt://_modules`` (the repository's root is the file root).
The states register each role's services with the host's local agent
(``_states/raycrafter_consul.py``) and salt/common/consul.jinja resolves the roles a
host reaches; the agent's address comes from raycrafter:common:consul:agent and is passed
in by the caller, so this module reads no pillar.
"""
import json
import urllib.parse

try:
    import consul
    import requests

    HAS_CONSUL = True
except ImportError:
    HAS_CONSUL = False

from salt.exceptions import CommandExecutionError

__virtualname__ = "raycrafter_consul"

# The check a service was registered with, kept in its Meta: the agent's service listing
# does not return check definitions, and a changed check must re-register.
CHECK_META = "raycrafter_check"
# A service registered under its host's name (the name its TLS certificate carries) keeps
# the host's address here: peers map the name to it (/etc/hosts), and address rules
# (pg_hba.conf, the firewall) need the address itself.
HOST_ADDRESS_META = "raycrafter_host_address"


def __virtual__():
    if HAS_CONSUL:
        return __virtualname__
    return False, ("python-consul (PyPI py-consul, import name consul) is not installed in "
                   "Salt's Python: see salt/requirements.txt")


def healthy(service, agent):
    """Every instance of ``service`` whose checks all pass, as {address, port,
    host_address}: ``address`` is where to reach it (a name or an address), and
    ``host_address`` the address that name stands for."""
    _, entries = _call(agent, lambda client: client.health.service(service, passing=True))
    found = []
    for entry in entries or []:
        # An instance registered without an address is reached at its node's address.
        address = entry["Service"].get("Address") or entry["Node"]["Address"]
        meta = entry["Service"].get("Meta") or {}
        found.append({"address": address, "port": entry["Service"]["Port"],
                      "host_address": meta.get(HOST_ADDRESS_META) or address})
    return found


def registered(service, agent):
    """Every registered instance of ``service``, healthy or not, as {address,
    host_address}: who may connect to a role (pg_hba.conf, the firewall) does not change
    while a host is briefly unhealthy."""
    _, entries = _call(agent, lambda client: client.catalog.service(service))
    found = []
    for entry in entries or []:
        address = entry["ServiceAddress"] or entry["Address"]
        found.append({"address": address,
                      "host_address": (entry.get("ServiceMeta") or {}).get(HOST_ADDRESS_META)
                      or address})
    return found


def local_service(service_id, agent):
    """The local agent's registration of ``service_id`` as {address, host_address, port,
    tags, check}, or None."""
    service = _call(agent, lambda client: client.agent.services()).get(service_id)
    if service is None:
        return None
    meta = service.get("Meta") or {}
    return {"address": service["Address"],
            "host_address": meta.get(HOST_ADDRESS_META) or service["Address"],
            "port": service["Port"], "tags": service.get("Tags") or [],
            "check": json.loads(meta.get(CHECK_META, "null"))}


def register(name, address, port, check, agent, tags=None, host_address=None):
    """Register ``name`` (also its id) at ``address`` with one health check, replacing any
    checks it had; ``host_address`` is the address ``address`` names, when it is a name."""
    meta = {CHECK_META: json.dumps(check, sort_keys=True),
            HOST_ADDRESS_META: host_address or address}
    return _call(agent, lambda client: client.agent.service.register(
        name, service_id=name, address=address, port=port, tags=tags or [], check=check,
        meta=meta, replace_existing_checks=True))


def deregister(service_id, agent):
    return _call(agent, lambda client: client.agent.service.deregister(service_id))


def _call(agent, request):
    parts = urllib.parse.urlsplit(agent)
    client = consul.Consul(host=parts.hostname, port=parts.port or 8500,
                           scheme=parts.scheme or "http")
    try:
        return request(client)
    except (consul.ConsulException, requests.RequestException) as error:
        raise CommandExecutionError(f"the Consul agent at {agent} refused or did not "
                                    f"answer: {error}") from None
