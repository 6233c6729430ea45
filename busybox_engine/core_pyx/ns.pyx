# cython: language_level=3
"""Namespaces: clone as a fork with CLONE_NEW* flags, unshare, setns.

clone_fork wraps the raw clone syscall with PyOS_BeforeFork/AfterFork_* the
way os.fork does, so the interpreter in the child is consistent; callers
make sure no other Python thread exists (runc is single-threaded).
"""
from busybox_engine.core_pyx.errors cimport os_error
from libc.errno cimport errno
from posix.types cimport pid_t

cdef extern from "Python.h":
    void PyOS_BeforeFork()
    void PyOS_AfterFork_Parent()
    void PyOS_AfterFork_Child()

cdef extern from "sched.h":
    int unshare(int flags) nogil
    int c_setns "setns"(int fd, int nstype) nogil

cdef extern from "signal.h":
    int SIGCHLD

cdef extern from "sys/syscall.h":
    long SYS_clone

cdef extern from "unistd.h":
    long syscall(long number, ...) nogil

import os

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

# runtime-spec namespace type -> clone flag, /proc/PID/ns name
TYPES = {
    "pid": (CLONE_NEWPID, "pid"),
    "network": (CLONE_NEWNET, "net"),
    "mount": (CLONE_NEWNS, "mnt"),
    "ipc": (CLONE_NEWIPC, "ipc"),
    "uts": (CLONE_NEWUTS, "uts"),
    "user": (CLONE_NEWUSER, "user"),
    "cgroup": (CLONE_NEWCGROUP, "cgroup"),
    "time": (CLONE_NEWTIME, "time"),
}


def clone_fork(int flags) -> int:
    """fork(), with `flags` (CLONE_NEW*) for the child. 0 in the child."""
    cdef long pid
    cdef int saved
    PyOS_BeforeFork()
    # x86_64 raw clone: flags, newsp, parent_tid, child_tid, tls
    pid = syscall(SYS_clone, <long>(flags | SIGCHLD), <long>0, <long>0, <long>0, <long>0)
    saved = errno
    if pid == 0:
        PyOS_AfterFork_Child()
        return 0
    PyOS_AfterFork_Parent()
    if pid < 0:
        raise os_error(saved, f"clone {flags:#x}")
    return pid


def unshare_ns(int flags) -> None:
    if unshare(flags) < 0:
        raise os_error(errno, f"unshare {flags:#x}")


def setns(int fd, int nstype, str what="") -> None:
    if c_setns(fd, nstype) < 0:
        raise os_error(errno, f"setns `{what or fd}`")
