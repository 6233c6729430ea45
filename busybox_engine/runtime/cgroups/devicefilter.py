"""cgroup v2 device rules as a BPF_PROG_TYPE_CGROUP_DEVICE program.

v2 has no devices.allow/deny files: access is decided by a BPF program
attached to the cgroup. The rules are v1's (type, major, minor, access,
allow), the last matching rule wins, and nothing matching means deny; the
program tests them last to first and returns at the first match.
"""

# Always allowed, whatever the spec says (runc 1.1's AllowedDevices: no
# /dev/console, which is a pts in the container; tuntap).
DEFAULT_DEVICE_RULES = [
    "c *:* m", "b *:* m",
    "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm", "c 1:5 rwm",
    "c 1:9 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm",
]


def device_rule(d: dict) -> str:
    """A runtime-spec linux.resources.devices entry as a v1 rule line."""
    t = d.get("type") or "a"
    major = d.get("major")
    minor = d.get("minor")
    if t == "a":
        return f"a *:* {d.get('access') or 'rwm'}"
    return (f"{t} {'*' if major is None or major < 0 else major}:"
            f"{'*' if minor is None or minor < 0 else minor} {d.get('access') or 'rwm'}")


def spec_rules(devices: list) -> list:
    """[(allow, rule)]: the spec's entries in order, then the defaults."""
    return ([(bool(d.get("allow")), device_rule(d)) for d in devices or []]
            + [(True, rule) for rule in DEFAULT_DEVICE_RULES])


# struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; }
DEV_BLOCK, DEV_CHAR = 1, 2
ACC_MKNOD, ACC_READ, ACC_WRITE = 1, 2, 4

LDXW = 0x61      # dst = *(u32 *)(src + off)
AND32_K = 0x54   # dst &= imm (32-bit)
RSH32_K = 0x74   # dst >>= imm (32-bit)
MOV32_X = 0xbc   # dst = src (32-bit)
MOV64_K = 0xb7   # dst = imm
JNE_K = 0x55     # if dst != imm: pc += off
EXIT = 0x95


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    import struct   # here: v1 hosts take only the rules above, on every runc start
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def parse_rule(rule: str) -> tuple:
    """'c 1:3 rwm' -> (type, major, minor, access bits); -1 for '*'."""
    kind, numbers, access = rule.split()
    major, minor = numbers.split(":")
    acc = (ACC_READ if "r" in access else 0) | (ACC_WRITE if "w" in access else 0) | \
          (ACC_MKNOD if "m" in access else 0)
    return (kind, -1 if major == "*" else int(major), -1 if minor == "*" else int(minor), acc)


def rule_block(allow: bool, rule: str) -> list:
    """Instructions that return allow/deny when the access matches rule,
    and fall through to the next block when it does not."""
    kind, major, minor, acc = parse_rule(rule)
    # (setup instructions, register, value): "if register != value: skip"
    tests = []
    if kind in ("b", "c"):
        tests.append(([], 2, DEV_BLOCK if kind == "b" else DEV_CHAR))
    if acc != ACC_MKNOD | ACC_READ | ACC_WRITE:
        # r1 = requested & ~allowed must be 0
        tests.append(([insn(MOV32_X, dst=1, src=3), insn(AND32_K, dst=1, imm=~acc & 7)], 1, 0))
    if major >= 0:
        tests.append(([], 4, major))
    if minor >= 0:
        tests.append(([], 5, minor))
    tail = [insn(MOV64_K, dst=0, imm=1 if allow else 0), insn(EXIT)]
    size = sum(len(setup) + 1 for setup, _, _ in tests) + len(tail)
    block, pos = [], 0
    for setup, reg, value in tests:
        block += setup
        pos += len(setup) + 1
        block.append(insn(JNE_K, dst=reg, off=size - pos, imm=value))
    return block + tail


def program(rules: list) -> bytes:
    """rules: [(allow, 'c 1:3 rwm' | 'a *:* rwm')] in v1 order."""
    out = [
        insn(LDXW, dst=2, src=1, off=0), insn(AND32_K, dst=2, imm=0xffff),   # r2 = type
        insn(LDXW, dst=3, src=1, off=0), insn(RSH32_K, dst=3, imm=16),       # r3 = access
        insn(LDXW, dst=4, src=1, off=4),                                      # r4 = major
        insn(LDXW, dst=5, src=1, off=8),                                      # r5 = minor
    ]
    for allow, rule in reversed(rules):
        block = rule_block(allow, rule)
        out += block
        if len(block) == 2:  # matches everything: what follows is unreachable
            return b"".join(out)
    out += [insn(MOV64_K, dst=0, imm=0), insn(EXIT)]  # nothing matched: deny
    return b"".join(out)


def attach(cgroup_dir: str, rules: list) -> None:
    import os
    from busybox_engine.core_pyx import bpf
    prog = bpf.load_device_program(program(rules))
    try:
        fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            bpf.attach_device_program(fd, prog)
        finally:
            os.close(fd)
    finally:
        os.close(prog)  # the attachment keeps the program alive
