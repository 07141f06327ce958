"""Salt on the appliance applied to this host (apply tier): its own salt-call and minion
configuration, as `./appliance up` wrote them."""
import json
import os
import subprocess

SALT_CALL = "/opt/raycrafter/salt/bin/salt-call"
CONFIG_DIR = os.environ.get("RAYCRAFTER_SALT_CONFIG_DIR", "/etc/raycrafter/salt")


def apply_sls(sls, pillar=None, timeout=900):
    """`state.sls SLS` on this host, with PILLAR (a dict) over the pillar if given; the
    completed process (JSON on stdout)."""
    extra = [f"pillar={json.dumps(pillar)}"] if pillar else []
    return subprocess.run([SALT_CALL, "--local", "--config-dir", CONFIG_DIR, "--out=json",
                           "--retcode-passthrough", "-l", "quiet", "state.sls", sls, *extra],
                          capture_output=True, text=True, timeout=timeout)
