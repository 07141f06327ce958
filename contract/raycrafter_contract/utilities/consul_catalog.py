"""Where a site runs Consul, a component finds the roles it connects to in Consul's catalog
at start: a healthy instance of each service, asked of the host's local agent.

Salt writes into a component's configuration which setting is resolved through which
service (``consul_services``) and the agent's address (``consul_agent``); a setting then
names only the scheme, credentials and path, and this module puts the instance's address
and port into it. The standard library only: the contract is installed on compute nodes.
"""
import json
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT_SECONDS = 5


class ConsulLookupError(Exception):
    """The agent could not be asked, or a service has no healthy instance."""


def healthy_instance(agent_url, service):
    """(address, port) of the first instance of ``service`` whose checks all pass.

    Consul's health endpoint with ``passing`` leaves out every instance with a warning or
    critical check, the node's own check included. An instance registered without an
    address is reached at its node's address, as Consul's own DNS interface does.
    """
    url = (f"{agent_url.rstrip('/')}/v1/health/service/"
           f"{urllib.parse.quote(service, safe='')}?passing=1")
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            entries = json.load(response)
    except (OSError, ValueError) as error:
        raise ConsulLookupError(f"cannot ask the Consul agent at {agent_url} for the "
                                f"service {service!r}: {error}") from None
    if not entries:
        raise ConsulLookupError(f"the Consul service {service!r} has no healthy instance "
                                f"(agent {agent_url})")
    entry = entries[0]
    return entry["Service"].get("Address") or entry["Node"]["Address"], entry["Service"]["Port"]


def with_address(url, address, port):
    """``url`` with its host and port replaced, its credentials and path kept."""
    parts = urllib.parse.urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    host = f"[{address}]" if ":" in address else address
    netloc = f"{credentials}@{host}:{port}" if credentials else f"{host}:{port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def resolve(settings, services, agent_url, resolvable, port_keys=None):
    """A copy of ``settings`` in which each key of ``services`` takes the address of a
    healthy instance of its service: a URL gets a new host and port; a bare host name gets
    the address, and its port goes to the key ``port_keys`` pairs with it. Only the keys
    in ``resolvable`` may be named."""
    if (not isinstance(services, dict) or not set(services) <= set(resolvable)
            or not all(isinstance(name, str) and name for name in services.values())):
        raise ConsulLookupError(f"consul_services must map some of {', '.join(resolvable)} "
                                f"to Consul service names")
    port_keys = port_keys or {}
    resolved = dict(settings)
    for key, service in services.items():
        address, port = healthy_instance(agent_url, service)
        if key in port_keys:
            resolved[key], resolved[port_keys[key]] = address, port
        else:
            resolved[key] = with_address(settings[key], address, port)
    return resolved
