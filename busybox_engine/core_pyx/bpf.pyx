# cython: language_level=3
"""bpf(2) for cgroup v2 device filters: load a BPF_PROG_TYPE_CGROUP_DEVICE
program and attach it to a cgroup directory."""
from busybox_engine.core_pyx.errors cimport os_error
from libc.errno cimport errno
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memset

cdef extern from "sys/syscall.h":
    long SYS_bpf

cdef extern from "unistd.h":
    long syscall(long number, ...) nogil

import os

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2


cdef struct prog_load_attr:
    uint32_t prog_type
    uint32_t insn_cnt
    uint64_t insns
    uint64_t license
    uint32_t log_level
    uint32_t log_size
    uint64_t log_buf
    uint32_t kern_version
    uint32_t prog_flags
    char prog_name[16]
    char pad[64]

cdef struct prog_attach_attr:
    uint32_t target_fd
    uint32_t attach_bpf_fd
    uint32_t attach_type
    uint32_t attach_flags
    uint32_t replace_bpf_fd
    char pad[44]


cdef long _load(bytes insns, bytes lic, char *log, uint32_t log_size):
    cdef prog_load_attr attr
    cdef const char *pi = insns
    cdef const char *pl = lic
    memset(&attr, 0, sizeof(attr))
    attr.prog_type = 15  # BPF_PROG_TYPE_CGROUP_DEVICE
    attr.insn_cnt = len(insns) // 8
    attr.insns = <uint64_t><size_t>pi
    attr.license = <uint64_t><size_t>pl
    if log != NULL:
        log[0] = 0
        attr.log_level = 1
        attr.log_size = log_size
        attr.log_buf = <uint64_t><size_t>log
    return syscall(SYS_bpf, <long>5, &attr, <long>sizeof(attr))  # BPF_PROG_LOAD


def load_device_program(bytes insns, str license="Apache") -> int:
    """Load a cgroup device program (8-byte instructions); its fd. On a
    failure the load is repeated with the verifier's log, for the message."""
    cdef bytes lic = license.encode() + b"\0"
    cdef long fd = _load(insns, lic, NULL, 0)
    cdef bytearray log
    if fd >= 0:
        return fd
    err = errno
    log = bytearray(1 << 16)
    _load(insns, lic, log, len(log))
    text = bytes(log).split(b"\0", 1)[0].decode(errors="replace").strip().splitlines()
    raise os_error(err, f"bpf load device program"
                  + (f" ({' | '.join(text[-3:])})" if text else ""))


def attach_device_program(int cgroup_fd, int prog_fd, unsigned int flags=2) -> None:
    """Attach (flags 2: BPF_F_ALLOW_MULTI, beside programs already there)."""
    cdef prog_attach_attr attr
    memset(&attr, 0, sizeof(attr))
    attr.target_fd = cgroup_fd
    attr.attach_bpf_fd = prog_fd
    attr.attach_type = 6  # BPF_CGROUP_DEVICE
    attr.attach_flags = flags
    if syscall(SYS_bpf, <long>8, &attr, <long>sizeof(attr)) < 0:  # BPF_PROG_ATTACH
        err = errno
        raise os_error(err, f"bpf attach device program")
