# cython: language_level=3
"""mount(2) and friends; errors read "verb `object`: cause"."""
from busybox_engine.core_pyx.errors cimport os_error
from libc.errno cimport errno
from libc.string cimport memset

cdef extern from "sys/mount.h":
    int c_mount "mount"(const char *source, const char *target, const char *fstype,
                        unsigned long flags, const void *data) nogil
    int c_umount2 "umount2"(const char *target, int flags) nogil

cdef extern from "sys/syscall.h":
    long SYS_pivot_root
    long SYS_openat2

cdef extern from "unistd.h":
    long syscall(long number, ...) nogil

cdef struct mount_attr_t:
    unsigned long long attr_set
    unsigned long long attr_clr
    unsigned long long propagation
    unsigned long long userns_fd

cdef extern from "linux/openat2.h":
    struct open_how:
        unsigned long long flags
        unsigned long long mode
        unsigned long long resolve

import os

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25
MNT_DETACH = 2

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10


cdef bytes _b(s):
    if s is None:
        return None
    return s if isinstance(s, bytes) else os.fsencode(s)


def mount(source, target, fstype, unsigned long flags, data=None) -> None:
    cdef bytes bs = _b(source), bt = _b(target), bf = _b(fstype), bd = _b(data)
    cdef const char *cs = NULL
    cdef const char *cf = NULL
    cdef const char *cd = NULL
    if bs is not None:
        cs = bs
    if bf is not None:
        cf = bf
    if bd is not None:
        cd = bd
    if c_mount(cs, bt, cf, flags, cd) < 0:
        err = errno
        raise os_error(err, f"mount `{source}` to `{target}`")


def umount2(target, int flags=0) -> None:
    cdef bytes bt = _b(target)
    if c_umount2(bt, flags) < 0:
        err = errno
        raise os_error(err, f"umount `{target}`")


def pivot_root(new_root, put_old) -> None:
    cdef bytes bn = _b(new_root), bo = _b(put_old)
    if syscall(SYS_pivot_root, <const char *>bn, <const char *>bo) < 0:
        err = errno
        raise os_error(err, f"pivot_root `{new_root}`")


def openat2(int dirfd, path, int flags, int mode=0, int resolve=0) -> int:
    """openat2(2): open path below dirfd with RESOLVE_* restrictions."""
    cdef open_how how
    cdef bytes bp = _b(path)
    cdef long fd
    memset(&how, 0, sizeof(how))
    how.flags = <unsigned long long>(flags | os.O_CLOEXEC)
    how.mode = mode
    how.resolve = resolve
    fd = syscall(SYS_openat2, dirfd, <const char *>bp, &how, sizeof(how))
    if fd < 0:
        err = errno
        raise os_error(err, f"open `{path}`")
    return fd


SYS_MOUNT_SETATTR = 442   # x86_64 (and every arch since 5.12's unified numbers)
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70
MOUNT_ATTR_RELATIME = 0x0
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_NOSYMFOLLOW = 0x200000


def mount_setattr(int fd, unsigned long long attr_set, unsigned long long attr_clr,
                  bint recursive=True, what="") -> None:
    """mount_setattr(2) on the mount fd is open at (AT_EMPTY_PATH): with
    recursive, on every mount below it too (the rro, rnosuid... options)."""
    cdef mount_attr_t attr
    memset(&attr, 0, sizeof(attr))
    attr.attr_set = attr_set
    attr.attr_clr = attr_clr
    cdef unsigned int flags = AT_EMPTY_PATH | (AT_RECURSIVE if recursive else 0)
    if syscall(SYS_MOUNT_SETATTR, fd, <const char *>b"", flags, &attr, sizeof(attr)) < 0:
        err = errno
        raise os_error(err, f"mount_setattr `{what}`")
