# cython: language_level=3
"""libseccomp, linked statically into the build: build and load a filter."""
from busybox_engine.core_pyx.errors cimport os_error
from libc.stdint cimport uint32_t, uint64_t

cdef extern from "seccomp.h":
    ctypedef void *scmp_filter_ctx
    enum scmp_compare:
        SCMP_CMP_NE
    struct scmp_arg_cmp:
        unsigned int arg
        scmp_compare op
        uint64_t datum_a
        uint64_t datum_b
    enum scmp_filter_attr:
        SCMP_FLTATR_CTL_NNP
    scmp_filter_ctx seccomp_init(uint32_t def_action)
    void seccomp_release(scmp_filter_ctx ctx)
    uint32_t seccomp_arch_resolve_name(const char *name)
    int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch)
    int seccomp_arch_exist(scmp_filter_ctx ctx, uint32_t arch)
    int seccomp_attr_set(scmp_filter_ctx ctx, scmp_filter_attr attr, uint32_t value)
    int seccomp_syscall_resolve_name(const char *name)
    int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name)
    int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
                               unsigned int arg_cnt, const scmp_arg_cmp *arg_array)
    int seccomp_load(scmp_filter_ctx ctx)
    int seccomp_export_bpf(scmp_filter_ctx ctx, int fd)

cdef extern from "linux/filter.h":
    struct sock_filter:
        pass
    struct sock_fprog:
        unsigned short len
        sock_filter *filter

cdef extern from "unistd.h":
    long syscall(long number, ...) nogil

cdef extern from "sys/syscall.h":
    long SYS_seccomp

cdef extern from "errno.h":
    int errno

import os

ACT_KILL_THREAD = 0x00000000
ACT_KILL_PROCESS = 0x80000000
ACT_TRAP = 0x00030000
ACT_NOTIFY = 0x7fc00000
ACT_LOG = 0x7ffc0000
ACT_ALLOW = 0x7fff0000


def act_errno(int err) -> int:
    return 0x00050000 | (err & 0xffff)


def act_trace(int msg) -> int:
    return 0x7ff00000 | (msg & 0xffff)


def syscall_number(str name) -> int:
    """The native number of a syscall name, -1 when libseccomp knows none."""
    return seccomp_syscall_resolve_name(name.encode())


def syscall_number_arch(str name, str arch) -> int:
    """The number of a syscall name on an architecture (libseccomp's name:
    x86_64, x86, x32...), as the kernel sees it there (x32's with bit 30);
    negative when there is none."""
    cdef uint32_t token = seccomp_arch_resolve_name(arch.encode())
    if token == 0:
        raise OSError(22, f"seccomp: unknown architecture {arch!r}")
    return seccomp_syscall_resolve_name_arch(token, name.encode())


cdef class Filter:
    cdef scmp_filter_ctx ctx

    def __cinit__(self, unsigned long default_action):
        self.ctx = seccomp_init(<uint32_t>default_action)
        if self.ctx == NULL:
            raise OSError(22, f"seccomp_init {default_action:#x}: invalid default action")
        # no_new_privs is the spec's to set, not libseccomp's
        seccomp_attr_set(self.ctx, SCMP_FLTATR_CTL_NNP, 0)

    def __dealloc__(self):
        if self.ctx != NULL:
            seccomp_release(self.ctx)

    def add_arch(self, str name) -> None:
        cdef uint32_t token = seccomp_arch_resolve_name(name.encode())
        if token == 0:
            raise OSError(22, f"seccomp: unknown architecture {name!r}")
        if seccomp_arch_exist(self.ctx, token) == 0:
            return
        rc = seccomp_arch_add(self.ctx, token)
        if rc < 0:
            raise os_error(-rc, f"seccomp_arch_add `{name}`")

    def add_rule(self, unsigned long action, str name, list args) -> bool:
        """Add a rule; False when the syscall is unknown here (skipped, as runc does)."""
        cdef int nr = seccomp_syscall_resolve_name(name.encode())
        cdef scmp_arg_cmp cmps[6]
        cdef int i
        if nr < 0:
            return False
        if len(args) > 6:
            raise OSError(22, f"seccomp rule for {name}: more than 6 argument conditions")
        for i, (index, op, a, b) in enumerate(args):
            cmps[i].arg = index
            cmps[i].op = <scmp_compare>op
            cmps[i].datum_a = a
            cmps[i].datum_b = b
        rc = seccomp_rule_add_array(self.ctx, <uint32_t>action, nr, len(args), cmps)
        if rc < 0:
            raise os_error(-rc, f"seccomp_rule_add `{name}`")
        return True

    def add_rule_nr(self, unsigned long action, int nr) -> bool:
        """A rule by native syscall number; False when libseccomp cannot
        place that number in this filter (unknown to it on some arch)."""
        return seccomp_rule_add_array(self.ctx, <uint32_t>action, nr, 0, NULL) in (0, -17)

    def load(self) -> None:
        rc = seccomp_load(self.ctx)
        if rc < 0:
            raise os_error(-rc, f"seccomp_load")

    def export_bpf(self) -> bytes:
        """The filter's BPF program, as seccomp_load would load it."""
        fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            rc = seccomp_export_bpf(self.ctx, fd)
            if rc < 0:
                raise os_error(-rc, "seccomp_export_bpf")
            size = os.fstat(fd).st_size
            return os.pread(fd, size, 0)
        finally:
            os.close(fd)


FILTER_FLAG_NEW_LISTENER = 8   # SECCOMP_FILTER_FLAG_NEW_LISTENER


def load_bpf(const unsigned char[:] prog, unsigned long flags=0) -> int:
    """Load a BPF program exported by Filter.export_bpf, as seccomp_load
    would with the filter's attributes here (no no_new_privs); with
    FILTER_FLAG_NEW_LISTENER the notify fd comes back (0 otherwise)."""
    cdef sock_fprog fprog
    cdef long rc
    if prog.shape[0] == 0 or prog.shape[0] % 8 or prog.shape[0] // 8 > 4096:
        raise OSError(22, "seccomp: not a BPF program")
    fprog.len = <unsigned short>(prog.shape[0] // 8)
    fprog.filter = <sock_filter *>&prog[0]
    rc = syscall(SYS_seccomp, 1, flags, &fprog)   # SECCOMP_SET_MODE_FILTER
    if rc < 0:
        raise os_error(errno, "seccomp(SECCOMP_SET_MODE_FILTER)")
    return rc
