"""The -ENOSYS stub runc puts in front of a seccomp filter.

A syscall newer than every syscall a profile names is one the profile's
author could not know; runc answers it with ENOSYS instead of the default
action, so programs fall back (clone3 -> clone) instead of failing on
EPERM. libseccomp can only add rules for numbers it knows, so, like runc,
we prepend classic BPF of our own to libseccomp's program: per audit
architecture, "nr > last -> ENOSYS", everything else falls through to the
filter unchanged.
"""
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
X32_BIT = 1 << 30
# libseccomp's architecture name -> (audit arch, slot: 0 native, 1 x32)
SLOTS = {"x86_64": (AUDIT_ARCH_X86_64, 0), "x32": (AUDIT_ARCH_X86_64, 1), "x86": (AUDIT_ARCH_I386, 0)}

# classic BPF opcodes (linux/bpf_common.h)
LD_W_ABS = 0x20
JA = 0x05
JEQ_K = 0x15
JGT_K = 0x25
JSET_K = 0x45
RET_K = 0x06

RET_ERRNO = 0x00050000
ENOSYS = 38


def _insn(code: int, jt: int = 0, jf: int = 0, k: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def stub(last: dict) -> bytes:
    """BPF to prepend to a filter. last maps an audit arch to the largest
    syscall numbers the profile names there, (native, x32) as SLOTS places
    them, None for an ABI the profile has nothing of."""
    E, F = "enosys", "filter"   # jump targets resolved below
    sections = []
    for arch, (native, x32) in last.items():
        if arch != AUDIT_ARCH_X86_64:
            checks = [] if native is None else [(JGT_K, E, 0, native)]
        elif native is not None and x32 is not None:
            checks = [(JSET_K, 1, 0, X32_BIT), (JGT_K, E, 1, native), (JGT_K, E, 0, x32)]
        elif native is not None:
            checks = [(JSET_K, 1, 0, X32_BIT), (JGT_K, E, 0, native)]
        elif x32 is not None:
            checks = [(JSET_K, 0, 1, X32_BIT), (JGT_K, E, 0, x32)]
        else:
            checks = []
        if checks:
            sections.append((arch, [(LD_W_ABS, 0, 0, 0)] + checks + [(JA, 0, 0, F)]))
    if not sections:
        return b""
    # ld arch; jeq arch_i -> section_i ...; ja filter; sections; ret ENOSYS; filter
    prog = [(LD_W_ABS, 0, 0, 4)]
    starts, pos = [], 1 + len(sections) + 1
    for _, body in sections:
        starts.append(pos)
        pos += len(body)
    for (arch, _), start in zip(sections, starts):
        prog.append((JEQ_K, ("at", start), 0, arch))
    prog.append((JA, 0, 0, F))
    for _, body in sections:
        prog.extend(body)
    targets = {E: len(prog), F: len(prog) + 1}
    prog.append((RET_K, 0, 0, RET_ERRNO | ENOSYS))
    out = []
    for here, (code, jt, jf, k) in enumerate(prog):
        if jt == E or isinstance(jt, tuple):
            jt = _jump(here, targets[E] if jt == E else jt[1])
        if code == JA and k == F:
            k = targets[F] - here - 1
        out.append(_insn(code, jt, jf, k))
    return b"".join(out)


def _jump(here: int, target: int) -> int:
    off = target - here - 1
    if not 0 <= off <= 255:
        raise ValueError("seccomp: -ENOSYS stub jump out of range")
    return off
