"""The Cython syscall layer (built in place by build.py)."""
import errno
import subprocess

import pytest

from tests.helpers import PYTHON, TOP

linux = pytest.importorskip("busybox_engine.core_pyx.linux",
                            reason="core_pyx not built: run python3 build.py")


def in_child(code: str) -> str:
    r = subprocess.run([PYTHON, "-c", "from busybox_engine.core_pyx import linux\n" + code],
                       cwd=TOP, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_set_and_get_name():
    out = in_child("linux.set_name('a-very-long-process-name'); print(linux.get_name()); "
                   "print(open('/proc/self/comm').read().strip())")
    assert out.splitlines() == ["a-very-long-pro", "a-very-long-pro"]


def test_child_subreaper():
    assert in_child("print(linux.is_child_subreaper()); linux.set_child_subreaper(); "
                    "print(linux.is_child_subreaper())").splitlines() == ["False", "True"]


def test_errors_carry_errno_and_name_the_call():
    with pytest.raises(OSError) as info:
        linux.set_pdeathsig(12345)
    assert info.value.errno == errno.EINVAL
    assert "prctl PR_SET_PDEATHSIG" in str(info.value)


def test_every_syscall_error_is_errno_and_one_line():
    """One mapping (core_pyx/errors.pxd): OSError with the errno and
    `verb `object`: cause`."""
    import errno
    import pytest
    from busybox_engine.core_pyx import mounts, ns
    with pytest.raises(OSError) as e:
        mounts.umount2("/no/such/mount/point", 0)
    assert e.value.errno == errno.ENOENT and str(e.value).endswith("umount `/no/such/mount/point`: No such file or directory")
    with pytest.raises(OSError) as e:
        ns.setns(-1, 0, "/proc/self/ns/none")
    assert e.value.errno == errno.EBADF and "setns `/proc/self/ns/none`: Bad file descriptor" in str(e.value)
