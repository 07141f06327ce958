"""A compute node without a way out, on one machine: nftables refuses connections to the
API's and the log server's ports from everywhere but the login node's own route.

On the stand-in the login node and the compute nodes are this host, and the API and the
log server are on loopback, so "the login node's own route" is a source address of its
own, 127.0.0.2, which the gateway connects from (``--source``): a connection to a closed
port from any other source is reset, for every user or for one (the batch jobs' user).

The rules live in a table of this process's own, which ``close()`` deletes. Each closed
port is a set element with a timeout, so that even a test killed before it could clean up
leaves nothing closed for long: the table is left empty, never the machine's route.
"""
import os
import socket
import subprocess

LOGIN_NODE_ROUTE = "127.0.0.2"


class NoWayOut:
    def __init__(self, ports, uid=None, lifetime="15m"):
        self.table = f"raycrafter_no_way_out_{os.getpid()}"
        key = "uid . inet_service" if uid is not None else "inet_service"
        match = "meta skuid . tcp dport" if uid is not None else "tcp dport"
        elements = ", ".join(f"{uid} . {port} timeout {lifetime}" if uid is not None
                             else f"{port} timeout {lifetime}" for port in ports)
        _nft(f"""
table inet {self.table} {{
    set closed {{ type {key}; flags timeout; }}
    chain output {{
        # Before the kernel's own address translation (priority -100): the source and
        # the port as the program asked for them.
        type filter hook output priority -150; policy accept;
        {match} @closed ip saddr != {LOGIN_NODE_ROUTE} reject with tcp reset
        meta nfproto ipv6 {match} @closed reject with tcp reset
    }}
}}
add element inet {self.table} closed {{ {elements} }}
""")

    def close(self):
        subprocess.run(["nft", "delete", "table", "inet", self.table], capture_output=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _nft(script):
    result = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"nft refused the rules: {result.stderr}")


def reaches(port, source=None, host="127.0.0.1"):
    """Whether a connection to ``host``:``port`` from ``source`` (this host's choice if
    None) is accepted."""
    with socket.socket() as probe:
        probe.settimeout(5)
        if source:
            probe.bind((source, 0))
        try:
            probe.connect((host, port))
            return True
        except OSError:
            return False
