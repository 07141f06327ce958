"""The login node as the site agent reaches it: itself. Commands run in the account's own
login shell, as sshd would run them for the worker, and files are copied on the login
node's file systems; everything else (the commands, their quoting, the classification of
their failures) is the worker's, unchanged (cluster.py).
"""
import os
import pwd
import subprocess

from .command_failures import check
from .errors import PermanentError, TransientError
from .transport import Result

# Copies each (source, destination) pair read from stdin, NUL-separated; bash's read -d ''.
_COPY_SCRIPT = ("bash -c 'while IFS= read -r -d \"\" from && IFS= read -r -d \"\" to; do "
                "cp -- \"$from\" \"$to\" || exit; done'")


class LocalTransport:
    """Runs commands on this host as this process's user, with the same interface and
    deadlines as SshTransport."""

    def __init__(self, profile):
        self.profile = profile
        # sshd runs a command with the account's login shell: so does this, so that the
        # commands see the environment a login over SSH would give them.
        self.shell = pwd.getpwuid(os.getuid()).pw_shell or "/bin/sh"

    def run(self, command, stdin=None, timeout=None):
        """Run ``command`` (already shell-quoted); returns its Result, a non-zero exit
        status included. A command past its deadline is abandoned: its shell is killed
        and what the shell started runs on, as it does on a login node when the worker
        gives up on an SSH channel; for a submission that is an unclear failure, which the
        never-twice rule looks up. It runs in a session of its own, so
        that a signal meant for the site agent (Ctrl-C) does not cut it short."""
        timeout = timeout or self.profile.command_timeout_seconds
        try:
            completed = subprocess.run([self.shell, "-c", command], input=(
                stdin.encode() if isinstance(stdin, str) else stdin),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                start_new_session=True)
        except subprocess.TimeoutExpired:
            raise TransientError(f"cluster {self.profile.name} (this login node): "
                                 f"{_short(command)} did not finish within {timeout:.0f} s")
        except OSError as error:
            raise PermanentError(f"cluster {self.profile.name}: cannot run {self.shell}: "
                                 f"{error.strerror}")
        return Result(completed.returncode, completed.stdout.decode(errors="replace"),
                      completed.stderr.decode(errors="replace"))

    def close(self):
        pass


class LocalStager:
    """Staging on the login node itself: the files are copied between the site agent's
    working folder and scratch by one command on the login node, so that a failed copy
    is classified as every failed command there is (command_failures.py). The caller
    verifies sizes and checksums afterwards, as after any transfer."""

    name = "local"
    # The site agent unpacks a scene by the scene rule where it runs, the login node
    # itself: no archive travels, so there is no receiver to send one to.
    receives_scenes = False

    def __init__(self, transport):
        self.transport = transport

    def upload(self, pairs, size):
        self._copy(pairs)

    def download(self, pairs, size):
        self._copy(pairs)

    def _copy(self, pairs):
        if pairs:
            names = "".join(f"{source}\0{destination}\0" for source, destination in pairs)
            check(self.transport.run(_COPY_SCRIPT, stdin=names),
                  f"copying {len(pairs)} file(s) on cluster {self.transport.profile.name}")


def _short(command, limit=80):
    return command if len(command) <= limit else command[:limit] + "..."
