"""Kill the appliance's own services with SIGKILL and bring them back, for the fault tier.

Supervisor restarts its programs (API, relay, worker) by itself (`autorestart=true`); the
database and the broker are init services, started again the way an operator would
(`service NAME start`). Every function returns only once the service answers again.
"""
import glob
import os
import signal
import subprocess

from support.polling import wait_for


def _run(*command, timeout=120):
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def pids_matching(*words):
    """Pids of processes whose command line holds every one of ``words`` (not this one),
    on this host only: processes in other PID namespaces (test hosts, containers) are
    visible in /proc too, and must never be killed by a test of this one."""
    own_namespace = os.readlink("/proc/self/ns/pid")
    found = []
    for cmdline_path in glob.glob("/proc/[0-9]*/cmdline"):
        pid = int(cmdline_path.split("/")[2])
        if pid == os.getpid():
            continue
        try:
            if os.readlink(f"/proc/{pid}/ns/pid") != own_namespace:
                continue
        except OSError:
            continue
        try:
            with open(cmdline_path, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        text = " ".join(part.decode(errors="replace") for part in argv)
        if all(word in text for word in words):
            found.append(pid)
    return found


def _gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A killed child of supervisord is a zombie until it is reaped.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def supervised_pids(program):
    """{process name: pid} of the RUNNING processes of a supervisor program or group
    (``raycrafter-worker:*`` names every process of the group)."""
    pids = {}
    for line in _run("supervisorctl", "status", program).stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[1] == "RUNNING" and fields[2] == "pid":
            pids[fields[0]] = int(fields[3].rstrip(","))
    return pids


def kill_supervised(program, timeout=60):
    """SIGKILL every process of a supervisor program; return once supervisor runs a new
    process in the place of each."""
    old = supervised_pids(program)
    assert old, f"{program} is not running under supervisor"
    for pid in old.values():
        os.kill(pid, signal.SIGKILL)

    def all_replaced():
        now = supervised_pids(program)
        return set(now) == set(old) and not set(now.values()) & set(old.values()) and now
    return wait_for(all_replaced, timeout=timeout, interval=0.5,
                    message=f"supervisor to restart {program}")


def _kill_and_wait(pids, what):
    assert pids, f"no {what} process found to kill"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: all(_gone(pid) for pid in pids), timeout=30, interval=0.2,
             message=f"{what} to die")


def _start_until_answering(service, probe, timeout):
    def started():
        _run("service", service, "start")
        return probe()
    wait_for(started, timeout=timeout, interval=2, message=f"{service} to start again")


def postgresql_answers():
    return _run("runuser", "-u", "postgres", "--", "pg_isready", "-q", "-h", "127.0.0.1").returncode == 0


def kill_postgresql(timeout=120):
    """SIGKILL the postmaster, then start the cluster again (crash recovery on start)."""
    pids = []
    for pid_file in glob.glob("/var/lib/postgresql/*/*/postmaster.pid"):
        with open(pid_file) as f:
            pids.append(int(f.readline()))
    _kill_and_wait(pids, "postmaster")
    # Its backends notice the postmaster's death and exit; until they have, a new
    # postmaster refuses to start (shared memory still in use), so start is retried.
    _start_until_answering("postgresql", postgresql_answers, timeout)


def rabbitmq_answers():
    return _run("rabbitmqctl", "-q", "status", timeout=60).returncode == 0


def kill_rabbitmq(timeout=180):
    """SIGKILL the RabbitMQ node (its Erlang VM), then start the service again."""
    _kill_and_wait(pids_matching("beam.smp", "rabbit"), "RabbitMQ node")
    _start_until_answering("rabbitmq-server", rabbitmq_answers, timeout)
