"""Confining the renderer with Landlock: it reads only the job's scene, its own program and
POV-Ray's include files, and writes only into the files the agent made for its images.

POV-Ray 3.7's own [File I/O Security] settings are not enforced for a scene's ``#fopen``,
``#read`` and ``#write`` (checked: a scene reads and writes anywhere the account can), so
the confinement comes from the kernel: Landlock (Linux 5.13 and later) lets an unprivileged
process give up file access for itself and its children. The agent starts every renderer
as ``python -m raycrafter_nodeagent.confinement --read ... --write ... -- ARGV``, which
sets the process's resource limits (limits.py), restricts itself and then executes ARGV.
Everything else the cluster account can reach (other jobs' scenes and frames, the job's
agent token, the home directory) is out of the renderer's reach, and in its work
directory it can create, remove or rename nothing: the files there are the agent's, each
bounded by the file size limit, so the directory cannot grow past them. Where the kernel
refuses Landlock the renderer does not run, unless ``--allow-unconfined`` is given (a
cluster profile's ``allow_unconfined``, see docs/nodeagent.md); then it runs unconfined
and says so on its first line.

``python -m raycrafter_nodeagent.confinement --probe`` only tries to confine itself: exit
status 0, or ``REFUSED_EXIT`` with the kernel's reason on stderr.
"""
import argparse
import ctypes
import os
import signal
import subprocess
import sys
from typing import List, Optional, Sequence

from . import limits

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
TRUNCATE = 1 << 14
_ABI1 = (1 << 13) - 1  # execute ... make_sym
_ADDED_BY_ABI = {2: 1 << 13, 3: TRUNCATE, 5: 1 << 15}  # refer, truncate, ioctl_dev
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | (1 << 15)
READ = EXECUTE | READ_FILE | READ_DIR
# Below a --write directory: write into files that exist, nothing else (no make_*,
# remove_* or refer: a file cannot be created, removed, renamed or linked there).
WRITE_EXISTING = READ | WRITE_FILE | TRUNCATE

# What any dynamically linked program needs to start and run, read-only.
SYSTEM_READ = ("/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/ld.so.cache",
               "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/povray",
               "/proc/self", "/proc/cpuinfo", "/sys/devices/system/cpu")
# What any program may write: the agent points POV-Ray's render state file here.
SYSTEM_WRITE = ("/dev/null",)
REFUSED_EXIT = 78  # EX_CONFIG: the renderer cannot be confined and may not run without


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def abi_version() -> int:
    """The kernel's Landlock ABI version; OSError with the kernel's answer without
    Landlock (ENOSYS: not built in, EOPNOTSUPP: not enabled at boot)."""
    version = _libc().syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                              ctypes.c_uint32(_CREATE_RULESET_VERSION))
    if version < 1:
        number = ctypes.get_errno()
        raise OSError(number, "this kernel has no Landlock (%s)" % os.strerror(number))
    return version


def confine(read: Sequence[str], write: Sequence[str]) -> None:
    """Restrict this process (and what it executes) to reading ``read`` and reading and
    writing the existing files of ``write``, each with everything below it. Raises
    OSError on failure."""
    abi = abi_version()
    handled = _ABI1
    for version, bit in _ADDED_BY_ABI.items():
        if abi >= version:
            handled |= bit
    libc = _libc()
    attr = _RulesetAttr(handled)
    ruleset = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr),
                           ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for paths, rights in ((read, READ), (write, WRITE_EXISTING)):
            for path in paths:
                _allow(libc, ruleset, path, rights & handled)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)


def _allow(libc, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # not on this system: nothing to allow
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        rule = _PathBeneathAttr(rights, fd)
        if libc.syscall(_SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH),
                        ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_add_rule failed for %s" % path)
    finally:
        os.close(fd)


def wrapped(argv: List[str], read: Sequence[str], write: Sequence[str],
            process_limits: limits.ProcessLimits, allow_unconfined: bool) -> List[str]:
    """``argv`` started through this module, so it runs confined and limited."""
    command = [sys.executable, "-m", "raycrafter_nodeagent.confinement"]
    for path in read:
        command += ["--read", path]
    for path in write:
        command += ["--write", path]
    command += process_limits.arguments()
    return command + (["--allow-unconfined"] if allow_unconfined else []) + ["--"] + list(argv)


def probe() -> Optional[str]:
    """Why the kernel refuses to confine a renderer on this node, or None if it does not:
    tried in a process of its own, as the agent must stay free."""
    done = subprocess.run([sys.executable, "-m", "raycrafter_nodeagent.confinement", "--probe"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, universal_newlines=True)
    if done.returncode == 0:
        return None
    return done.stderr.strip() or "the probe exited with status %d" % done.returncode


def main(args: Sequence[str] = None) -> int:
    parser = argparse.ArgumentParser(prog="raycrafter_nodeagent.confinement")
    parser.add_argument("--read", action="append", default=[])
    parser.add_argument("--write", action="append", default=[])
    parser.add_argument("--file-bytes", type=int)
    parser.add_argument("--memory-bytes", type=int)
    parser.add_argument("--cpu-seconds", type=int)
    parser.add_argument("--allow-unconfined", action="store_true")
    parser.add_argument("--probe", action="store_true")
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    options = parser.parse_args(args)
    if options.probe:
        try:
            confine([], [])
        except OSError as error:
            print(_reason(error), file=sys.stderr)
            return REFUSED_EXIT
        return 0
    if None in (options.file_bytes, options.memory_bytes, options.cpu_seconds):
        parser.error("a renderer runs with --file-bytes, --memory-bytes and --cpu-seconds")
    argv = options.argv[1:] if options.argv[:1] == ["--"] else options.argv
    executable = _resolved(argv[0])
    try:
        confine(list(SYSTEM_READ) + _program_files(argv, executable) + options.read,
                list(SYSTEM_WRITE) + options.write)
    except OSError as error:
        if not options.allow_unconfined:
            print("raycrafter: the renderer cannot be confined (%s); refusing to run it"
                  % _reason(error), file=sys.stderr, flush=True)
            return REFUSED_EXIT
        print("raycrafter: warning: the renderer runs unconfined (%s): it can read and "
              "write whatever the cluster account can" % _reason(error), file=sys.stderr,
              flush=True)
    # Python ignores these, and what a process ignores stays ignored across exec: the
    # renderer ends at a write past its file size limit (instead of going on without its
    # writes) and at its next line of output once the agent is gone.
    for ignored in (signal.SIGXFSZ, signal.SIGPIPE):
        signal.signal(ignored, signal.SIG_DFL)
    limits.apply(options.file_bytes, options.memory_bytes, options.cpu_seconds)
    try:
        os.execv(executable, argv)
    except OSError as error:
        print("raycrafter: cannot start %s: %s" % (argv[0], error), file=sys.stderr)
    return 127


def _reason(error: OSError) -> str:
    """The error without its errno prefix, which says nothing to a reader."""
    return ": ".join(str(part) for part in (error.strerror, error.filename) if part) \
        or str(error)


def _program_files(argv: List[str], executable: str) -> List[str]:
    """What the program itself reads: the installation its executable sits in (the parent
    of its bin/, for the path given and the one links lead to, as a virtualenv's python
    needs), and the files a site's command template names by absolute path (a script)."""
    given = argv[0] if os.sep in argv[0] else executable
    roots = {os.path.dirname(os.path.dirname(os.path.abspath(path)))
             for path in (given, executable)} - {os.sep}  # /bin/x must not open all of /
    named = {argument for argument in argv[1:]
             if argument.startswith(os.sep) and os.path.exists(argument)}
    return sorted(roots | named)


def _resolved(program: str) -> str:
    if os.sep in program:
        return os.path.realpath(program)
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory, program)
        if os.access(candidate, os.X_OK):
            return os.path.realpath(candidate)
    return program


if __name__ == "__main__":
    sys.exit(main())
