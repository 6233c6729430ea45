"""Docker's default seccomp policy, as an OCI seccomp section.

Deny by default (EPERM); allow the x86_64 system calls up to those of
Linux 5.10 except the ones Docker's default profile holds back: those that
reach across the container's boundary (kernel modules, kexec, reboot,
clock setting, mounts and namespaces, keyrings, BPF, perf, swap, ...).
Several come back with the capability that makes them safe, as in
Docker's profile; clone may not make namespaces without CAP_SYS_ADMIN,
clone3 says ENOSYS (so libcs fall back to clone), and personality takes
only the harmless personas. `--privileged` and seccomp=unconfined run
without it; --seccomp-profile replaces it.
"""

# the x86_64 system call table up to process_madvise (440), from the kernel's unistd_64.h
SYSCALLS = [
    "read", "write", "open", "close", "stat", "fstat", "lstat", "poll",
    "lseek", "mmap", "mprotect", "munmap", "brk", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
    "ioctl", "pread64", "pwrite64", "readv", "writev", "access", "pipe", "select",
    "sched_yield", "mremap", "msync", "mincore", "madvise", "shmget", "shmat", "shmctl",
    "dup", "dup2", "pause", "nanosleep", "getitimer", "alarm", "setitimer", "getpid",
    "sendfile", "socket", "connect", "accept", "sendto", "recvfrom", "sendmsg", "recvmsg",
    "shutdown", "bind", "listen", "getsockname", "getpeername", "socketpair", "setsockopt", "getsockopt",
    "clone", "fork", "vfork", "execve", "exit", "wait4", "kill", "uname",
    "semget", "semop", "semctl", "shmdt", "msgget", "msgsnd", "msgrcv", "msgctl",
    "fcntl", "flock", "fsync", "fdatasync", "truncate", "ftruncate", "getdents", "getcwd",
    "chdir", "fchdir", "rename", "mkdir", "rmdir", "creat", "link", "unlink",
    "symlink", "readlink", "chmod", "fchmod", "chown", "fchown", "lchown", "umask",
    "gettimeofday", "getrlimit", "getrusage", "sysinfo", "times", "ptrace", "getuid", "syslog",
    "getgid", "setuid", "setgid", "geteuid", "getegid", "setpgid", "getppid", "getpgrp",
    "setsid", "setreuid", "setregid", "getgroups", "setgroups", "setresuid", "getresuid", "setresgid",
    "getresgid", "getpgid", "setfsuid", "setfsgid", "getsid", "capget", "capset", "rt_sigpending",
    "rt_sigtimedwait", "rt_sigqueueinfo", "rt_sigsuspend", "sigaltstack", "utime", "mknod", "uselib", "personality",
    "ustat", "statfs", "fstatfs", "sysfs", "getpriority", "setpriority", "sched_setparam", "sched_getparam",
    "sched_setscheduler", "sched_getscheduler", "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval", "mlock", "munlock", "mlockall",
    "munlockall", "vhangup", "modify_ldt", "pivot_root", "_sysctl", "prctl", "arch_prctl", "adjtimex",
    "setrlimit", "chroot", "sync", "acct", "settimeofday", "mount", "umount2", "swapon",
    "swapoff", "reboot", "sethostname", "setdomainname", "iopl", "ioperm", "create_module", "init_module",
    "delete_module", "get_kernel_syms", "query_module", "quotactl", "nfsservctl", "getpmsg", "putpmsg", "afs_syscall",
    "tuxcall", "security", "gettid", "readahead", "setxattr", "lsetxattr", "fsetxattr", "getxattr",
    "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr",
    "tkill", "time", "futex", "sched_setaffinity", "sched_getaffinity", "set_thread_area", "io_setup", "io_destroy",
    "io_getevents", "io_submit", "io_cancel", "get_thread_area", "lookup_dcookie", "epoll_create", "epoll_ctl_old", "epoll_wait_old",
    "remap_file_pages", "getdents64", "set_tid_address", "restart_syscall", "semtimedop", "fadvise64", "timer_create", "timer_settime",
    "timer_gettime", "timer_getoverrun", "timer_delete", "clock_settime", "clock_gettime", "clock_getres", "clock_nanosleep", "exit_group",
    "epoll_wait", "epoll_ctl", "tgkill", "utimes", "vserver", "mbind", "set_mempolicy", "get_mempolicy",
    "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr", "kexec_load", "waitid",
    "add_key", "request_key", "keyctl", "ioprio_set", "ioprio_get", "inotify_init", "inotify_add_watch", "inotify_rm_watch",
    "migrate_pages", "openat", "mkdirat", "mknodat", "fchownat", "futimesat", "newfstatat", "unlinkat",
    "renameat", "linkat", "symlinkat", "readlinkat", "fchmodat", "faccessat", "pselect6", "ppoll",
    "unshare", "set_robust_list", "get_robust_list", "splice", "tee", "sync_file_range", "vmsplice", "move_pages",
    "utimensat", "epoll_pwait", "signalfd", "timerfd_create", "eventfd", "fallocate", "timerfd_settime", "timerfd_gettime",
    "accept4", "signalfd4", "eventfd2", "epoll_create1", "dup3", "pipe2", "inotify_init1", "preadv",
    "pwritev", "rt_tgsigqueueinfo", "perf_event_open", "recvmmsg", "fanotify_init", "fanotify_mark", "prlimit64", "name_to_handle_at",
    "open_by_handle_at", "clock_adjtime", "syncfs", "sendmmsg", "setns", "getcpu", "process_vm_readv", "process_vm_writev",
    "kcmp", "finit_module", "sched_setattr", "sched_getattr", "renameat2", "seccomp", "getrandom", "memfd_create",
    "kexec_file_load", "bpf", "execveat", "userfaultfd", "membarrier", "mlock2", "copy_file_range", "preadv2",
    "pwritev2", "pkey_mprotect", "pkey_alloc", "pkey_free", "statx", "io_pgetevents", "rseq", "pidfd_send_signal",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount",
    "fspick", "pidfd_open", "clone3", "close_range", "openat2", "pidfd_getfd", "faccessat2", "process_madvise",
]

# allowed only with the capability named
BY_CAPABILITY = {
    "CAP_SYS_ADMIN": ["bpf", "clone", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
                      "lookup_dcookie", "mount", "move_mount", "name_to_handle_at", "open_tree",
                      "perf_event_open", "quotactl", "setdomainname", "sethostname", "setns",
                      "syslog", "umount2", "unshare", "swapon", "swapoff", "pivot_root"],
    "CAP_SYS_BOOT": ["reboot", "kexec_load", "kexec_file_load"],
    "CAP_SYS_CHROOT": ["chroot"],
    "CAP_SYS_MODULE": ["delete_module", "init_module", "finit_module"],
    "CAP_SYS_PACCT": ["acct"],
    "CAP_SYS_PTRACE": ["kcmp", "pidfd_getfd", "process_vm_readv", "process_vm_writev"],
    "CAP_SYS_RAWIO": ["iopl", "ioperm"],
    "CAP_SYS_TIME": ["settimeofday", "clock_settime", "clock_adjtime", "adjtimex"],
    "CAP_SYS_TTY_CONFIG": ["vhangup"],
    "CAP_SYS_NICE": ["get_mempolicy", "mbind", "set_mempolicy"],
    "CAP_SYSLOG": ["syslog"],
    "CAP_DAC_READ_SEARCH": ["open_by_handle_at"],
}

# never allowed by the default policy
DENIED = {"add_key", "keyctl", "request_key", "create_module", "get_kernel_syms", "nfsservctl",
          "query_module", "_sysctl", "sysfs", "uselib", "userfaultfd", "ustat", "vm86", "vm86old",
          "afs_syscall", "tuxcall", "security", "putpmsg", "getpmsg", "vserver", "move_pages",
          "lookup_dcookie", "mbind", "personality", "clone", "clone3", "io_uring_setup",
          "io_uring_enter", "io_uring_register", "modify_ldt", "migrate_pages", "epoll_ctl_old",
          "epoll_wait_old", "set_thread_area", "get_thread_area"}

# the namespace flags of clone(2): without CAP_SYS_ADMIN, none of them
CLONE_NS_FLAGS = 0x7E020000
PERSONAS = [0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF]
EPERM, ENOSYS = 1, 38


def profile(capabilities: list) -> dict:
    """The seccomp section of a spec for a process with these capabilities."""
    caps = set(capabilities)
    gated = {name for names in BY_CAPABILITY.values() for name in names}
    allowed = [n for n in SYSCALLS if n not in DENIED and n not in gated]
    for cap, names in BY_CAPABILITY.items():
        if cap in caps:
            allowed += [n for n in names if n not in allowed]
    rules = [{"names": sorted(set(allowed)), "action": "SCMP_ACT_ALLOW"}]
    rules += [{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": p, "op": "SCMP_CMP_EQ"}]} for p in PERSONAS]
    if "CAP_SYS_ADMIN" not in caps:
        rules.append({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": CLONE_NS_FLAGS, "valueTwo": 0,
                                "op": "SCMP_CMP_MASKED_EQ"}]})
        rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS})
    else:
        rules.append({"names": ["clone3"], "action": "SCMP_ACT_ALLOW"})
    return {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": EPERM,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": rules}


def from_docker_profile(doc: dict, capabilities: list) -> dict:
    """A profile in Docker's format (--security-opt seccomp=FILE,
    --seccomp-profile) as the spec's seccomp section: rules whose
    includes/excludes capabilities do not fit are left out."""
    if not isinstance(doc, dict):
        raise ValueError("a seccomp profile is a JSON object")
    caps = set(capabilities)
    out = {"defaultAction": doc.get("defaultAction") or "SCMP_ACT_ERRNO"}
    if "defaultErrnoRet" in doc:
        out["defaultErrnoRet"] = doc["defaultErrnoRet"]
    arches = list(doc.get("architectures") or [])
    for entry in doc.get("archMap") or []:
        if isinstance(entry, dict) and entry.get("architecture") == "SCMP_ARCH_X86_64":
            arches += [entry["architecture"], *(entry.get("subArchitectures") or [])]
    if arches:
        out["architectures"] = arches
    rules = []
    for rule in doc.get("syscalls") or []:
        if not isinstance(rule, dict):
            raise ValueError("a seccomp rule is a JSON object")
        inc = rule.get("includes") or {}
        exc = rule.get("excludes") or {}
        if inc.get("caps") and not set(inc["caps"]) <= caps:
            continue
        if exc.get("caps") and set(exc["caps"]) & caps:
            continue
        if inc.get("arches") and "amd64" not in inc["arches"] and "x86" not in inc["arches"]:
            continue
        r = {k: v for k, v in rule.items() if k not in ("includes", "excludes", "comment")}
        if "name" in r and "names" not in r:
            r["names"] = [r.pop("name")]
        rules.append(r)
    out["syscalls"] = rules
    return out
