"""A service of this host registered with the local Consul agent, idempotently.

Salt syncs this module from ``salt://_states``; the states of each role call it through
the `consul_service` macro (salt/common/consul.jinja). Registration is compared with what
the agent holds (address, host address, port, tags, and what the service's Meta keeps), so a
second highstate changes nothing.
"""

__virtualname__ = "raycrafter_consul"


def __virtual__():
    if "raycrafter_consul.register" in __salt__:
        return __virtualname__
    return False, "the raycrafter_consul execution module is not available"


def registered(name, address, port, check, agent, tags=None, host_address=None):
    """``address`` is where peers reach the service: the host's name under TLS, with the
    address it stands for in ``host_address``."""
    wanted = {"address": address, "host_address": host_address or address, "port": port,
              "tags": tags or [], "check": check}
    return _converge(name, agent, wanted, "registered with",
                     lambda: __salt__["raycrafter_consul.register"](
                         name, address, port, check, agent, tags=tags, host_address=host_address))


def absent(name, agent):
    return _converge(name, agent, None, "deregistered from",
                     lambda: __salt__["raycrafter_consul.deregister"](name, agent))


def _converge(name, agent, wanted, done, change):
    """Compare the agent's registration of ``name`` with ``wanted`` (None: none) and
    ``change`` it only when they differ, and not under test=True."""
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    current = __salt__["raycrafter_consul.local_service"](name, agent)
    if current == wanted:
        ret["comment"] = f"{name} is already {done.split()[0]} (Consul agent at {agent})"
        return ret
    ret["changes"] = {"old": current, "new": wanted}
    if __opts__["test"]:
        ret["result"] = None
        ret["comment"] = f"{name} would be {done} the Consul agent at {agent}"
        return ret
    change()
    ret["comment"] = f"{name} {done} the Consul agent at {agent}"
    return ret
