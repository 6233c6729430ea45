"""seccomp profiles from the spec, through libseccomp linked into the build."""
import pytest


def profile(**rules):
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86",
                                                                 "SCMP_ARCH_X32"],
            "syscalls": list(rules.values())}


def run_with(runc, args, seccomp, nnp=True, name="bundle"):
    b = runc.bundle(args, name=name, root={"path": "rootfs"})
    spec = runc.spec(b)
    spec["linux"]["seccomp"] = seccomp
    spec["process"]["noNewPrivileges"] = nnp
    runc.write_spec(b, spec)
    return runc("run", "-b", b, name, check=False)


@pytest.mark.parametrize("nnp", [True, False])
def test_errno_rule_blocks_a_syscall(runc, nnp):
    r = run_with(runc, ["sh", "-c", "mkdir /tmp/a || echo blocked; grep Seccomp: /proc/self/status"],
                 profile(mk={"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}), nnp=nnp)
    assert r.returncode == 0, r.stderr
    assert "Operation not permitted" in r.stderr
    assert r.stdout.split() == ["blocked", "Seccomp:", "2"]


def test_errno_ret_and_argument_conditions(runc):
    # chmod to 0700 fails with ENOSPC (28); other modes pass
    rules = profile(a={"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28,
                       "args": [{"index": 1, "value": 0o700, "op": "SCMP_CMP_EQ"}]},
                    b={"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28,
                       "args": [{"index": 2, "value": 0o700, "op": "SCMP_CMP_EQ"}]})
    r = run_with(runc, ["sh", "-c", "touch /tmp/f; chmod 700 /tmp/f || echo refused; "
                        "chmod 755 /tmp/f && echo changed"], rules)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["refused", "changed"]
    assert "No space left on device" in r.stderr


def test_default_errno_with_an_allow_list(runc):
    allowed = ["execve", "brk", "arch_prctl", "set_tid_address", "exit_group", "write",
               "writev", "getpid", "ioctl", "getuid", "geteuid", "rt_sigprocmask",
               "rt_sigaction", "uname", "readlink", "prlimit64", "mmap", "munmap",
               "set_robust_list", "rseq", "mprotect", "getrandom", "newfstatat", "fstat",
               # what runs between the filter and the program
               "setresuid", "setresgid", "setgroups", "capset", "capget", "prctl", "close",
               "fcntl", "getdents64", "openat", "read", "lseek"]
    seccomp = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
               "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}]}
    r = run_with(runc, ["echo", "only-what-is-allowed"], seccomp)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "only-what-is-allowed\n"


def test_unknown_syscall_names_are_skipped(runc):
    r = run_with(runc, ["true"], profile(x={"names": ["no_such_syscall", "mkdir"],
                                           "action": "SCMP_ACT_ERRNO"}))
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("bad,expect", [
    ({"defaultAction": "SCMP_ACT_BOGUS"}, "string SCMP_ACT_BOGUS is not a valid action for seccomp"),
    # a string where a list is due is not taken letter by letter (it once
    # blocked nothing); every shape is checked, in one line
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "mkdir", "action": "SCMP_ACT_ERRNO"}]},
     "linux.seccomp.syscalls[0].names must be an array"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": ["mkdir"]}, "linux.seccomp.syscalls[0] must be an object"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": "SCMP_ARCH_X86_64"},
     "linux.seccomp.architectures must be an array"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                                       "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]},
     "syscalls only have up to 6 arguments (9 given)"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                                       "errnoRet": "1"}]},
     "linux.seccomp.syscalls[0].errnoRet must be an integer"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_NOPE"]}, "unknown architecture"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                                       "args": [{"index": 0, "value": 1, "op": "BAD"}]}]},
     "unknown operator"),
    ({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}, "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath"),
])
def test_bad_profiles_fail_create(runc, bad, expect):
    b = runc.bundle(["true"])
    spec = runc.spec(b)
    spec["linux"]["seccomp"] = bad
    runc.write_spec(b, spec)
    r = runc("create", "-b", b, "c1", check=False)
    assert r.returncode == 1 and expect in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_exec_gets_the_container_profile(runc):
    b = runc.bundle(["sleep", "100"], root={"path": "rootfs"})
    spec = runc.spec(b)
    spec["linux"]["seccomp"] = profile(mk={"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"})
    runc.write_spec(b, spec)
    runc("run", "-d", "-b", b, "c1")
    r = runc("exec", "c1", "sh", "-c", "mkdir /tmp/z || echo blocked", check=False)
    assert r.stdout.strip() == "blocked"
