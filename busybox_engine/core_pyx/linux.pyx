# cython: language_level=3
"""prctl calls the daemons and the shim need, errors as OSError with errno."""

cdef extern from "sys/prctl.h":
    int prctl(int option, unsigned long arg2, unsigned long arg3,
              unsigned long arg4, unsigned long arg5) nogil
    int PR_SET_NAME
    int PR_GET_NAME
    int PR_SET_PDEATHSIG
    int PR_SET_CHILD_SUBREAPER
    int PR_GET_CHILD_SUBREAPER

cdef extern from "errno.h":
    int errno

import os


cdef int _check(int rc, str what) except -1:
    if rc < 0:
        raise OSError(errno, f"prctl {what}: {os.strerror(errno)}")
    return rc


def set_name(name: str) -> None:
    """PR_SET_NAME: the calling thread's comm (15 bytes at most)."""
    cdef bytes raw = name.encode()[:15]
    cdef const char *p = raw
    _check(prctl(PR_SET_NAME, <unsigned long>p, 0, 0, 0), "PR_SET_NAME")


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
