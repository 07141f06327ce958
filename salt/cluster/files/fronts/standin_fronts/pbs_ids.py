"""PBS job ids: `NUMBER.SERVER`, the number being Slurm's job id.

The server is the host the front runs on, or the one the caller names in the variable
its batch system reads (PBS_SERVER for PBS Professional, PBS_DEFAULT for Torque).
"""
import os
import re
import socket

_ID = re.compile(r"^(\d+)(\.[A-Za-z0-9][\w.-]*)?$")


def server_name(variable):
    return os.environ.get(variable) or socket.gethostname()


def host_name():
    """The login node's name, which PBS writes into Job_Owner and the output paths."""
    return socket.gethostname()


def job_id(number, server):
    return f"{number}.{server}"


def number(text):
    """The job number of `123` or `123.server`; None for anything else."""
    match = _ID.match(text)
    return int(match.group(1)) if match else None
