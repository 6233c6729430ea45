# cython: language_level=3
"""prctl calls the daemons and the shim need, errors as OSError with errno."""

from busybox_engine.core_pyx.errors cimport os_error
cdef extern from "sys/prctl.h":
    int prctl(int option, unsigned long arg2, unsigned long arg3,
              unsigned long arg4, unsigned long arg5) nogil
    int PR_SET_NAME
    int PR_GET_NAME
    int PR_SET_PDEATHSIG
    int PR_SET_CHILD_SUBREAPER
    int PR_GET_CHILD_SUBREAPER
    int PR_SET_MM
    int PR_SET_MM_MAP
    cdef struct prctl_mm_map:
        unsigned long long start_code
        unsigned long long end_code
        unsigned long long start_data
        unsigned long long end_data
        unsigned long long start_brk
        unsigned long long brk
        unsigned long long start_stack
        unsigned long long arg_start
        unsigned long long arg_end
        unsigned long long env_start
        unsigned long long env_end
        unsigned long long *auxv
        unsigned int auxv_size
        unsigned int exe_fd

cdef extern from "unistd.h":
    void *sbrk(long increment)

cdef extern from "malloc.h":
    int c_malloc_trim "malloc_trim"(size_t pad) nogil

from libc.stdlib cimport malloc
from libc.string cimport memcpy

cdef extern from "errno.h":
    int errno

import os


cdef int _check(int rc, str what) except -1:
    cdef int err
    if rc < 0:
        err = errno
        raise os_error(err, f"prctl {what}")
    return rc


def set_name(name: str) -> None:
    """PR_SET_NAME: the calling thread's comm (15 bytes at most)."""
    cdef bytes raw = name.encode()[:15]
    cdef const char *p = raw
    _check(prctl(PR_SET_NAME, <unsigned long>p, 0, 0, 0), "PR_SET_NAME")


def set_cmdline(argv) -> None:
    """What /proc/self/cmdline (and so ps) shows: argv in a buffer of its
    own, never freed; a process forked from a daemon would otherwise go on
    showing the daemon's command line. PR_SET_MM_MAP, which (unlike the
    single-field PR_SET_MM calls) needs no CAP_SYS_RESOURCE: every other
    field is given back as it is."""
    cdef bytes raw = b"".join(a.encode() + b"\0" for a in argv)
    cdef Py_ssize_t n = len(raw)
    cdef prctl_mm_map m
    with open("/proc/self/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    field = lambda k: int(fields[k - 3])  # noqa: E731 - proc(5) numbers them from 1
    m.start_code, m.end_code, m.start_stack = field(26), field(27), field(28)
    m.start_data, m.end_data, m.start_brk = field(45), field(46), field(47)
    m.env_start, m.env_end = field(50), field(51)
    m.auxv = NULL
    m.auxv_size = 0
    m.exe_fd = <unsigned int>-1
    cdef char *buf = <char *>malloc(n)
    if buf == NULL:
        raise MemoryError()
    memcpy(buf, <const char *>raw, n)
    m.arg_start = <unsigned long>buf
    m.arg_end = <unsigned long>(buf + n)
    m.brk = <unsigned long>sbrk(0)   # after the malloc: it may have moved the break
    _check(prctl(PR_SET_MM, PR_SET_MM_MAP, <unsigned long>&m, sizeof(m), 0), "PR_SET_MM_MAP")


def malloc_trim() -> bool:
    """Give the C heap's free pages back to the kernel (glibc keeps what a
    burst of work freed in the middle of the heap)."""
    return c_malloc_trim(0) != 0


def get_name() -> str:
    cdef char buf[17]
    buf[16] = 0
    _check(prctl(PR_GET_NAME, <unsigned long>buf, 0, 0, 0), "PR_GET_NAME")
    return (<bytes>buf).decode(errors="replace")


def set_child_subreaper(bint on=True) -> None:
    """Orphaned descendants are re-parented to us, not to PID 1."""
    _check(prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0),
           "PR_SET_CHILD_SUBREAPER")


def is_child_subreaper() -> bool:
    cdef int value = 0
    _check(prctl(PR_GET_CHILD_SUBREAPER, <unsigned long>&value, 0, 0, 0),
           "PR_GET_CHILD_SUBREAPER")
    return value != 0


def set_pdeathsig(int sig) -> None:
    """Deliver sig to us when our parent thread exits."""
    _check(prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0), "PR_SET_PDEATHSIG")


# --- capabilities, no_new_privs, names -------------------------------------

cdef extern from "sys/prctl.h":
    int PR_SET_KEEPCAPS
    int PR_SET_DUMPABLE
    int PR_SET_NO_NEW_PRIVS
    int PR_GET_NO_NEW_PRIVS
    int PR_CAPBSET_READ
    int PR_CAPBSET_DROP
    int PR_CAP_AMBIENT
    int PR_CAP_AMBIENT_RAISE
    int PR_CAP_AMBIENT_CLEAR_ALL

cdef extern from "sys/syscall.h":
    long SYS_capget
    long SYS_capset

cdef extern from "unistd.h":
    long syscall(long number, ...) nogil
    int c_sethostname "sethostname"(const char *name, size_t len) nogil
    int c_setdomainname "setdomainname"(const char *name, size_t len) nogil

cdef struct cap_header:
    unsigned int version
    int pid

cdef struct cap_data:
    unsigned int effective
    unsigned int permitted
    unsigned int inheritable

DEF CAP_V3 = 0x20080522


def set_keepcaps(bint on) -> None:
    _check(prctl(PR_SET_KEEPCAPS, 1 if on else 0, 0, 0, 0), "PR_SET_KEEPCAPS")


def set_dumpable(bint on) -> None:
    _check(prctl(PR_SET_DUMPABLE, 1 if on else 0, 0, 0, 0), "PR_SET_DUMPABLE")


def set_no_new_privs() -> None:
    _check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")


def get_no_new_privs() -> bool:
    return _check(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), "PR_GET_NO_NEW_PRIVS") == 1


def capbset_read(int cap) -> bool:
    return _check(prctl(PR_CAPBSET_READ, cap, 0, 0, 0), "PR_CAPBSET_READ") == 1


def capbset_drop(int cap) -> None:
    _check(prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"PR_CAPBSET_DROP {cap}")


def ambient_clear() -> None:
    _check(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "PR_CAP_AMBIENT_CLEAR_ALL")


def ambient_raise(int cap) -> None:
    _check(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0), f"PR_CAP_AMBIENT_RAISE {cap}")


def capget(int pid=0) -> tuple:
    """(effective, permitted, inheritable) as 64-bit masks."""
    cdef cap_header hdr
    cdef cap_data data[2]
    hdr.version = CAP_V3
    hdr.pid = pid
    if syscall(SYS_capget, &hdr, data) < 0:
        err = errno
        raise os_error(err, f"capget")
    return (data[0].effective | (<unsigned long long>data[1].effective << 32),
            data[0].permitted | (<unsigned long long>data[1].permitted << 32),
            data[0].inheritable | (<unsigned long long>data[1].inheritable << 32))


def capset(unsigned long long effective, unsigned long long permitted,
           unsigned long long inheritable) -> None:
    cdef cap_header hdr
    cdef cap_data data[2]
    hdr.version = CAP_V3
    hdr.pid = 0
    data[0].effective = effective & 0xffffffff
    data[0].permitted = permitted & 0xffffffff
    data[0].inheritable = inheritable & 0xffffffff
    data[1].effective = effective >> 32
    data[1].permitted = permitted >> 32
    data[1].inheritable = inheritable >> 32
    if syscall(SYS_capset, &hdr, data) < 0:
        err = errno
        raise os_error(err, f"capset")


def sethostname(str name) -> None:
    cdef bytes b = name.encode()
    if c_sethostname(b, len(b)) < 0:
        err = errno
        raise os_error(err, f"sethostname `{name}`")


def setdomainname(str name) -> None:
    cdef bytes b = name.encode()
    if c_setdomainname(b, len(b)) < 0:
        err = errno
        raise os_error(err, f"setdomainname `{name}`")


# --- rlimits ------------------------------------------------------------------

cdef extern from "sys/resource.h":
    ctypedef unsigned long rlim_t
    struct rlimit:
        rlim_t rlim_cur
        rlim_t rlim_max
    int c_setrlimit "setrlimit"(int resource, const rlimit *rlim) nogil
    rlim_t RLIM_INFINITY


def setrlimit(int resource, unsigned long long soft, unsigned long long hard, str name="") -> None:
    cdef rlimit r
    r.rlim_cur = soft
    r.rlim_max = hard
    if c_setrlimit(resource, &r) < 0:
        err = errno
        raise os_error(err, f"setrlimit `{name or resource}`")


# --- keyrings -----------------------------------------------------------------

cdef extern from "sys/syscall.h":
    long SYS_keyctl


def join_session_keyring(str name) -> int:
    """KEYCTL_JOIN_SESSION_KEYRING: a new session keyring named `name`."""
    cdef bytes b = name.encode()
    cdef long serial = syscall(SYS_keyctl, <long>1, <const char *>b)
    if serial < 0:
        err = errno
        raise os_error(err, f"keyctl join session keyring `{name}`")
    return serial
