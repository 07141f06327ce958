"""Confining the renderer with Landlock: it reads only the job's scene, its own program and
POV-Ray's include files, and writes only its work directory.

POV-Ray 3.7's own [File I/O Security] settings are not enforced for a scene's ``#fopen``,
``#read`` and ``#write`` (checked: a scene reads and writes anywhere the account can), so
the confinement comes from the kernel: Landlock (Linux 5.13 and later) lets an unprivileged
process give up file access for itself and its children. The agent starts every renderer
as ``python -m raycrafter_nodeagent.confinement --read ... --write ... -- ARGV``, which
restricts itself and then executes ARGV. Everything else the cluster account can reach
(other jobs' scenes and frames, the job's agent token, the home directory) is out of the
renderer's reach. Where the kernel has no Landlock the renderer runs unconfined and says
so on its first line, unless ``--required`` is given (see docs/nodeagent.md).
"""
import argparse
import ctypes
import os
import sys
from typing import List, Sequence

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_ABI1 = (1 << 13) - 1  # execute ... make_sym
_ADDED_BY_ABI = {2: 1 << 13, 3: 1 << 14, 5: 1 << 15}  # refer, truncate, ioctl_dev
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | (1 << 14) | (1 << 15)
READ = EXECUTE | READ_FILE | READ_DIR

# What any dynamically linked program needs to start and run, read-only.
SYSTEM_READ = ("/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/ld.so.cache",
               "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/povray",
               "/proc/self", "/proc/cpuinfo", "/sys/devices/system/cpu")
REFUSED_EXIT = 78  # EX_CONFIG: confinement was required and is not available


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def abi_version() -> int:
    """The kernel's Landlock ABI version, 0 without Landlock."""
    version = _libc().syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                              ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(version, 0)


def confine(read: Sequence[str], write: Sequence[str]) -> None:
    """Restrict this process (and what it executes) to reading ``read`` and reading and
    writing ``write``, each with everything below it. Raises OSError on failure."""
    abi = abi_version()
    if abi < 1:
        raise OSError("this kernel has no Landlock")
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
        for paths, rights in ((read, READ), (write, handled)):
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
            required: bool = False) -> List[str]:
    """``argv`` started through this module, so it runs confined."""
    command = [sys.executable, "-m", "raycrafter_nodeagent.confinement"]
    for path in read:
        command += ["--read", path]
    for path in write:
        command += ["--write", path]
    return command + (["--required"] if required else []) + ["--"] + list(argv)


def main(args: Sequence[str] = None) -> int:
    parser = argparse.ArgumentParser(prog="raycrafter_nodeagent.confinement")
    parser.add_argument("--read", action="append", default=[])
    parser.add_argument("--write", action="append", default=[])
    parser.add_argument("--required", action="store_true")
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    options = parser.parse_args(args)
    argv = options.argv[1:] if options.argv[:1] == ["--"] else options.argv
    executable = _resolved(argv[0])
    try:
        confine(list(SYSTEM_READ) + _program_files(argv, executable) + options.read,
                options.write)
    except OSError as error:
        if options.required:
            print("raycrafter: the renderer cannot be confined (%s); refusing to run it"
                  % error, file=sys.stderr, flush=True)
            return REFUSED_EXIT
        print("raycrafter: warning: the renderer runs unconfined (%s): it can read and "
              "write whatever the cluster account can" % error, file=sys.stderr, flush=True)
    try:
        os.execv(executable, argv)
    except OSError as error:
        print("raycrafter: cannot start %s: %s" % (argv[0], error), file=sys.stderr)
    return 127


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
