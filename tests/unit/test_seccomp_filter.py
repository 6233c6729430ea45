"""Seccomp filters built from profiles, loaded in a child Python process."""
import subprocess
import textwrap

import pytest

from tests.helpers import PYTHON, TOP

pytest.importorskip("busybox_engine.core_pyx.seccomp", reason="core_pyx not built")


def in_filtered_child(code: str) -> str:
    script = textwrap.dedent("""
        import ctypes, errno, json, sys
        from busybox_engine.core_pyx import seccomp as s
        from busybox_engine.runtime.seccomp import build, compile_profile
        libc = ctypes.CDLL(None, use_errno=True)
        def call(nr, *args):
            r = libc.syscall(nr, *args)
            return errno.errorcode.get(ctypes.get_errno(), "OK") if r < 0 else "OK"
    """) + code
    r = subprocess.run([PYTHON, "-c", script], cwd=TOP, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_newer_syscalls_get_enosys_and_named_ones_their_action():
    out = in_filtered_child(textwrap.dedent("""
        from busybox_engine.runtime.seccomp import enosys_stub
        profile = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                   "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                                {"names": ["rseq"], "action": "SCMP_ACT_ALLOW"}]}
        f = compile_profile(profile)
        # allow the rest of what this interpreter needs, by number, up to rseq
        for nr in range(335):
            if nr not in (83,):  # mkdir keeps its rule
                f.add_rule_nr(s.ACT_ALLOW, nr)
        s.load_bpf(enosys_stub(profile) + f.export_bpf())
        print(call(435, 0, 0), call(1000), call(83, b"/nonexistent-dir", 0o755), call(39),
              call(0x40000000 + 400), call(0x40000000 + 83, b"/nonexistent-dir", 0o755))
    """))
    # clone3 (435) and 1000 are newer than anything named: ENOSYS; mkdir:
    # its errnoRet; getpid (39): allowed; on x32 (numbers with bit 30) past
    # x32's rseq: ENOSYS, and x32's mkdir goes on to its rule
    assert out == "ENOSYS ENOSYS EACCES OK ENOSYS EACCES"


@pytest.mark.parametrize("profile, stub", [
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
      "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}]}, False),
    ({"defaultAction": "SCMP_ACT_LOG", "architectures": ["SCMP_ARCH_X86_64"],
      "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}]}, False),
    ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "architectures": ["SCMP_ARCH_X86_64"],
      "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}, False),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}, False),
    ({"defaultAction": "SCMP_ACT_KILL", "architectures": ["SCMP_ARCH_X86_64"],
      "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"}]}, True),
    # read is syscall 0: runc finds no "largest" syscall then, and adds none
    ({"defaultAction": "SCMP_ACT_KILL", "architectures": ["SCMP_ARCH_X86_64"],
      "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}, False),
])
def test_the_stub_only_where_runc_puts_it(profile, stub):
    """runc: not for a permissive default or an ENOSYS one, and only for
    the architectures the profile lists."""
    from busybox_engine.runtime.seccomp import enosys_stub
    assert bool(enosys_stub(profile)) is stub


def test_a_compiled_filter_is_kept_and_loads_the_same(tmp_path):
    cache = tmp_path / "cache"
    out = in_filtered_child(textwrap.dedent(f"""
        import os
        os.environ["BUSYBOX_ENGINE_SECCOMP_CACHE"] = {str(cache)!r}
        from busybox_engine.runtime.seccomp import Program
        profile = {{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                   "syscalls": [{{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}}]}}
        first = build(profile)
        again = build(profile)
        other = build(dict(profile, defaultAction="SCMP_ACT_LOG"))
        assert isinstance(first, Program) and isinstance(again, Program), (first, again)
        assert again.bpf == first.bpf and other.bpf != first.bpf
        assert sorted(oct(os.stat(p).st_mode & 0o777) for p in [{str(cache)!r}]) == ["0o700"]
        again.load()
        print(call(83, b"/nonexistent-dir", 0o755), call(39))
    """))
    assert out == "EACCES OK"
    assert len(list(cache.iterdir())) == 2


def test_a_cache_others_can_write_is_not_trusted(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o777)
    cache.chmod(0o777)
    out = in_filtered_child(textwrap.dedent(f"""
        import os
        os.environ["BUSYBOX_ENGINE_SECCOMP_CACHE"] = {str(cache)!r}
        from busybox_engine.runtime.seccomp import Program
        profile = {{"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}}]}}
        first, again = build(profile), build(profile)
        first.load()
        print(call(83, b"/nonexistent-dir", 0o755), first.bpf == again.bpf)
    """))
    assert out == "EACCES True"
    assert list(cache.iterdir()) == []
