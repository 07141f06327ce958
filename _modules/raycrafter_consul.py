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


def __virtual__():
    if HAS_CONSUL:
        return __virtualname__
    return False, ("python-consul (PyPI py-consul, import name consul) is not installed in "
                   "Salt's Python: see salt/requirements.txt")


def healthy(service, agent):
    """Every instance of ``service`` whose checks all pass, as {address, port}."""
    _, entries = _call(agent, lambda client: client.health.service(service, passing=True))
    # An instance registered without an address is reached at its node's address.
    return [{"address": entry["Service"].get("Address") or entry["Node"]["Address"],
             "port": entry["Service"]["Port"]} for entry in entries or []]


def registered_addresses(service, agent):
    """The address of every registered instance of ``service``, healthy or not: who may
    connect to a role (pg_hba.conf) does not change while a host is briefly unhealthy."""
    _, entries = _call(agent, lambda client: client.catalog.service(service))
    return [entry["ServiceAddress"] or entry["Address"] for entry in entries or []]


def local_service(service_id, agent):
    """The local agent's registration of ``service_id`` as {address, port, tags, check},
    or None."""
    service = _call(agent, lambda client: client.agent.services()).get(service_id)
    if service is None:
        return None
    return {"address": service["Address"], "port": service["Port"],
            "tags": service.get("Tags") or [],
            "check": json.loads((service.get("Meta") or {}).get(CHECK_META, "null"))}


def register(name, address, port, check, agent, tags=None):
    """Register ``name`` (also its id) with one health check, replacing any checks it had."""
    return _call(agent, lambda client: client.agent.service.register(
        name, service_id=name, address=address, port=port, tags=tags or [], check=check,
        meta={CHECK_META: json.dumps(check, sort_keys=True)}, replace_existing_checks=True))


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
