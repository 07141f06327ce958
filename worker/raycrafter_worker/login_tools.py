"""The worker's own program on the login node: the scene receiver (scene_receiver.py), with
the contract's modules, as one zip application.

The login node must unpack a scene by the rule the API checked it with. Whatever is
installed on the cluster (the node agent's environment holds a contract too) may be older
or newer than the worker, and may not be reachable from the login node at all; so the
worker ships the rule it was deployed with. It builds the application from its own
installed files, byte for byte the same each time, names it after its SHA-256 and keeps it
in SCRATCH/raycrafter/.tools: the first transfer of a worker of a new version puts it
there (one command), every later one finds it. It needs Python 3.8 or newer on the login
node (``login_python`` in the profile, ``python3`` by default) and nothing else.
"""
import functools
import hashlib
import io
import os
import secrets
import shlex
import zipfile

import raycrafter_contract

from . import scene_receiver
from .command_failures import check

# The exit status of a receiver command that found no receiver installed.
NOT_INSTALLED = 97
_MAIN = b"import sys\nfrom receive_scene import main\nsys.exit(main())\n"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


@functools.lru_cache(maxsize=None)
def receiver_application():
    """(the zip application's bytes, its SHA-256): the receiver as ``receive_scene`` and
    the contract's top-level modules, which are all the scene rule imports."""
    contract = os.path.dirname(raycrafter_contract.__file__)
    files = {"__main__.py": _MAIN}
    with open(scene_receiver.__file__, "rb") as source:
        files["receive_scene.py"] = source.read()
    for name in sorted(os.listdir(contract)):
        if name.endswith(".py"):
            with open(os.path.join(contract, name), "rb") as source:
                files[f"raycrafter_contract/{name}"] = source.read()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as application:
        for name, data in sorted(files.items()):
            entry = zipfile.ZipInfo(name, _FIXED_TIME)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            application.writestr(entry, data)
    data = buffer.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def receiver_path(profile):
    return f"{profile.jobs_root}/.tools/receive-scene-{receiver_application()[1][:16]}.pyz"


def receiver_command(profile, arguments):
    """The shell command that runs the receiver with ``arguments`` (a list), or exits
    NOT_INSTALLED when it is not on the login node yet."""
    path = shlex.quote(receiver_path(profile))
    # Saying so on the output lets the worker stop sending the scene at once.
    # -I -S: nothing from the environment or site-packages, and a quicker start.
    return (f"if [ -f {path} ]; then {shlex.quote(profile.login_python)} -I -S {path} "
            f"{shlex.join(arguments)}; else echo not installed; exit {NOT_INSTALLED}; fi")


def install_receiver(transport, profile):
    """Put the receiver on the login node: written under a temporary name, then renamed,
    so a receiver cut off half-way is never run."""
    path = receiver_path(profile)
    partial = f"{path}.{secrets.token_hex(6)}.partial"
    check(transport.run(f"umask 077 && mkdir -p -- {shlex.quote(os.path.dirname(path))} && "
                        f"cat > {shlex.quote(partial)} && mv -f -- {shlex.quote(partial)} "
                        f"{shlex.quote(path)}", stdin=receiver_application()[0]),
          f"installing the scene receiver on cluster {profile.name}")
