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
        from busybox_engine.runtime.seccomp import build
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
        profile = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                                {"names": ["rseq"], "action": "SCMP_ACT_ALLOW"}]}
        f = build(profile)
        # allow the rest of what this interpreter needs, by number, up to rseq
        for nr in range(335):
            if nr not in (83,):  # mkdir keeps its rule
                f.add_rule_nr(s.ACT_ALLOW, nr)
        f.load()
        print(call(435, 0, 0), call(83, b"/nonexistent-dir", 0o755), call(39))
    """))
    # clone3 (435) is newer than anything named: ENOSYS; mkdir: its errnoRet;
    # getpid (39): allowed
    assert out == "ENOSYS EACCES OK"
