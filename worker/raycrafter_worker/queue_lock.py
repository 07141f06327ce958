"""The lock on a cluster's login node that makes "count our batch jobs, then submit one"
a single step for every worker process at once (docs/worker.md, "Queue limits").

It is a directory, ``SCRATCH/raycrafter/.queue-lock``, because ``mkdir`` is atomic on
every file system a login node shares (NFS, Lustre, GPFS), where ``flock`` is not always
honoured; inside, ``owner`` holds the holder's token. The holder takes it (one command),
lists the queue (another), and its submission command checks it still owns it before
calling the scheduler and removes it once the scheduler has answered, so the lock is
held for about two commands. A holder that died holding it is outlived: a lock older than
its lease (three command timeouts and a minute) is broken by the next submitter.
"""
import dataclasses
import shlex


@dataclasses.dataclass(frozen=True)
class QueueLock:
    profile: object
    token: str

    @property
    def path(self):
        return f"{self.profile.jobs_root}/.queue-lock"

    @property
    def lease_seconds(self):
        return int(3 * self.profile.command_timeout_seconds + 60)

    @property
    def wait_seconds(self):
        """How long the taking command waits for another holder, within its deadline."""
        return max(1, int(min(30, self.profile.command_timeout_seconds / 2)))

    def take_command(self, busy_status):
        """Takes the lock, waiting for another holder up to ``wait_seconds`` and then
        exiting ``busy_status``. A stale lock is broken only if its owner is still the one
        whose age was read, so a lock just made by another submitter survives."""
        lock, owner = shlex.quote(self.path), shlex.quote(f"{self.path}/owner")
        return (f"n=0; until mkdir -- {lock} 2>/dev/null; do "
                f"o=$(cat {owner} 2>/dev/null); "
                f"age=$(( $(date +%s) - $(stat -c %Y {lock} 2>/dev/null || date +%s) )); "
                f"if [ \"$age\" -gt {self.lease_seconds} ] && "
                f"[ \"$(cat {owner} 2>/dev/null)\" = \"$o\" ]; then "
                f"mv -- {lock} {lock}.stale.{self.token} 2>/dev/null && "
                f"rm -rf -- {lock}.stale.{self.token}; continue; fi; "
                f"[ $n -lt {self.wait_seconds} ] || exit {busy_status}; "
                f"n=$((n + 1)); sleep 1; done; echo {self.token} > {owner}")

    def held_test(self):
        """A shell test that succeeds while this holder still owns the lock."""
        owner = shlex.quote(f"{self.path}/owner")
        return f"[ \"$(cat {owner} 2>/dev/null)\" = {self.token} ]"

    def release_command(self):
        return f"{{ {self.held_test()} && rm -rf -- {shlex.quote(self.path)}; true; }}"
