"""Run a command on a kernel that refuses Landlock, as kernels without it do.

usage: without_landlock.py COMMAND [ARGUMENT ...]

Installs a seccomp filter under which the three Landlock system calls
(landlock_create_ruleset, landlock_add_rule, landlock_restrict_self) fail with ENOSYS,
the answer of a kernel built without Landlock, then executes COMMAND. The filter is
inherited by everything COMMAND starts, so a node agent run under it, and the renderers it
starts, meet exactly such a kernel; everything else runs as usual. Used by the tests only.
"""

import ctypes
import errno
import os
import platform
import struct
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
# The Landlock calls have the same numbers on every architecture (the generic table).
LANDLOCK_CALLS = (444, 446)  # landlock_create_ruleset .. landlock_restrict_self
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

# Classic BPF, as seccomp reads it: struct seccomp_data has nr at 0 and arch at 4.
BPF_LD_W_ABS, BPF_JEQ_K, BPF_JGE_K, BPF_JGT_K, BPF_RET_K = 0x20, 0x15, 0x35, 0x25, 0x06
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000


def instruction(code, jump_true, jump_false, value):
    return struct.pack("HBBI", code, jump_true, jump_false, value)


def landlock_refused_filter(arch):
    first, last = LANDLOCK_CALLS
    program = [
        instruction(BPF_LD_W_ABS, 0, 0, 4),                     # 0: arch
        instruction(BPF_JEQ_K, 0, 4, arch),                     # 1: other arch -> 6
        instruction(BPF_LD_W_ABS, 0, 0, 0),                     # 2: system call number
        instruction(BPF_JGE_K, 0, 2, first),                    # 3: below -> 6
        instruction(BPF_JGT_K, 1, 0, last),                     # 4: above -> 6
        instruction(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS),  # 5
        instruction(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),        # 6
    ]
    return b"".join(program), len(program)


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def refuse_landlock():
    code, length = landlock_refused_filter(AUDIT_ARCH[platform.machine()])
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    program = SockFprog(length, code)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(program), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


if __name__ == "__main__":
    refuse_landlock()
    os.execvp(sys.argv[1], sys.argv[1:])
