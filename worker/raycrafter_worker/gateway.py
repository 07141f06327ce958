"""The gateway on a cluster's login node for compute nodes without a way out
(docs/sites.md, "Compute nodes without a way out").

A profile with a ``gateway_host`` has its node agents reach the API and the log server
through ``raycrafter-gateway`` (the node agent's distribution) on the login node, which
relays their connections byte for byte: TLS stays end to end, the agents verify the API's
and the log server's certificates by their own names and send their tokens inside TLS
only. The gateway lives as long as the cluster has batch jobs of ours: it is started (or
found running) before each submission and at every poll round while batch jobs are
queued or running, so one the login node killed is back within a round, and it ends by
itself once idle. One runs per login node and cluster account, found by its pid file in
``SCRATCH/raycrafter/.gateway``.
"""
import shlex
import urllib.parse

# How long a gateway started now may take to listen before the command gives up on it.
_START_TRIES, _START_PAUSE = 20, "0.25"


def _address(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def routes(profile):
    """The gateway's ``--route`` values: the API's port, and the log server's if any."""
    api = urllib.parse.urlsplit(profile.agent_api_url)
    api_port = api.port or (443 if api.scheme == "https" else 80)
    found = [f"{_address(profile.gateway_host, profile.gateway_port)}="
             f"{_address(api.hostname, api_port)}"]
    if profile.log_host:
        found.append(f"{_address(profile.gateway_host, profile.gateway_log_port)}="
                     f"{_address(profile.log_host, profile.log_port)}")
    return found


def ensure_command(profile):
    """A command that starts the gateway unless it runs on this login node already, and
    prints ``running`` or ``started``; it fails, with the gateway's last words, when a
    gateway it started does not listen."""
    directory = shlex.quote(f"{profile.jobs_root}/.gateway")
    arguments = []
    for found in routes(profile):
        arguments += ["--route", found]
    if profile.gateway_source_address:
        arguments += ["--source", profile.gateway_source_address]
    start = (f"{shlex.quote(profile.gateway_program)} --pid-file \"$p\" "
             f"{shlex.join(arguments)}")
    return (f"d={directory}; mkdir -p -m 0700 -- \"$d\" || exit 1; h=$(hostname); "
            f"p=\"$d/$h.pid\"; "
            f"if i=$(cat \"$p\" 2>/dev/null) && [ -n \"$i\" ] && kill -0 \"$i\" 2>/dev/null "
            f"&& grep -aqF -- \"$p\" \"/proc/$i/cmdline\" 2>/dev/null; then echo running; "
            f"exit 0; fi; rm -f -- \"$p\"; "
            f"nohup setsid {start} >> \"$d/$h.log\" 2>&1 < /dev/null & g=$!; "
            f"n=0; until [ -s \"$p\" ]; do n=$((n + 1)); "
            f"if [ $n -gt {_START_TRIES} ] || ! kill -0 \"$g\" 2>/dev/null; then "
            f"echo \"the gateway did not start on $h:\" >&2; tail -n 3 \"$d/$h.log\" >&2; "
            f"exit 1; fi; sleep {_START_PAUSE}; done; echo started")


def agent_arguments(profile):
    """What the node agent needs to reach the API and the log server through the gateway;
    the names its certificates are verified by stay the API's and the log server's."""
    arguments = ["--api-connect-to", _address(profile.gateway_host, profile.gateway_port)]
    if profile.log_host:
        arguments += ["--log-host", profile.gateway_host,
                      "--log-port", str(profile.gateway_log_port),
                      "--log-server-name", profile.log_host]
    return arguments
