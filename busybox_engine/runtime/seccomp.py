"""runtime-spec linux.seccomp -> a libseccomp filter, built before clone so a
bad profile fails create early; the init only loads it."""
import errno

from busybox_engine.runtime.errors import InvalidConfig

# native syscall numbers stop below this (x86_64's x32 ABI starts at 512)
NATIVE_SYSCALL_LIMIT = 512

OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
       "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}


def action(name: str, errno_ret: int | None):
    from busybox_engine.core_pyx import seccomp as s
    if name in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"):
        return s.ACT_KILL_THREAD
    if name == "SCMP_ACT_KILL_PROCESS":
        return s.ACT_KILL_PROCESS
    if name == "SCMP_ACT_TRAP":
        return s.ACT_TRAP
    if name == "SCMP_ACT_ERRNO":
        return s.act_errno(errno.EPERM if errno_ret is None else errno_ret)
    if name == "SCMP_ACT_TRACE":
        return s.act_trace(errno.EPERM if errno_ret is None else errno_ret)
    if name == "SCMP_ACT_ALLOW":
        return s.ACT_ALLOW
    if name == "SCMP_ACT_LOG":
        return s.ACT_LOG
    if name == "SCMP_ACT_NOTIFY":
        raise InvalidConfig("seccomp: SCMP_ACT_NOTIFY (a seccomp agent) is not supported")
    raise InvalidConfig(f"seccomp: unknown action {name!r}")


def build(profile: dict):
    """A seccomp.Filter for the profile (not loaded)."""
    from busybox_engine.core_pyx import seccomp as s
    try:
        default = action(profile.get("defaultAction", ""), profile.get("defaultErrnoRet"))
        f = s.Filter(default)
        for arch in profile.get("architectures") or []:
            if not arch.startswith("SCMP_ARCH_"):
                raise InvalidConfig(f"seccomp: unknown architecture {arch!r}")
            f.add_arch(arch[len("SCMP_ARCH_"):].lower())
        named = set()
        for rule in profile.get("syscalls") or []:
            for name in rule.get("names") or []:
                nr = s.syscall_number(name)
                if nr >= 0:
                    named.add(nr)
        for i, rule in enumerate(profile.get("syscalls") or []):
            act = action(rule.get("action", ""), rule.get("errnoRet"))
            if act == default:
                continue  # libseccomp refuses rules that repeat the default
            args = []
            for a in rule.get("args") or []:
                op = OPS.get(a.get("op"))
                if op is None:
                    raise InvalidConfig(f"seccomp: syscalls[{i}]: unknown operator {a.get('op')!r}")
                args.append((a.get("index", 0), op, a.get("value", 0), a.get("valueTwo", 0)))
            # one condition per argument in a rule: repeated indexes become
            # one rule each, as runc does
            indexes = [a[0] for a in args]
            groups = [args] if len(set(indexes)) == len(indexes) else [[a] for a in args]
            for name in rule.get("names") or []:
                for group in groups:
                    f.add_rule(act, name, group)
        if default not in (s.ACT_ALLOW, s.ACT_LOG) and named:
            # Syscalls newer than the profile get ENOSYS, not the default
            # action, as with runc: programs then fall back to older calls
            # (clone3 -> clone) instead of failing on an EPERM.
            for nr in range(max(named) + 1, NATIVE_SYSCALL_LIMIT):
                if nr not in named:
                    f.add_rule_nr(s.act_errno(errno.ENOSYS), nr)  # skipped where libseccomp cannot map nr
    except OSError as e:
        raise InvalidConfig(f"seccomp: {e.strerror or e}") from None
    except (TypeError, ValueError, OverflowError) as e:
        raise InvalidConfig(f"seccomp: invalid profile: {e}") from None
    return f
