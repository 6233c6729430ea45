"""Dispatch from source: names, the multiplexer, exit codes, process name."""
import os
import subprocess

import pytest

from busybox_engine import dispatch, install
from tests.helpers import PYTHON, TOP, Proc, comm, wait_for


def run_module(*args, **kw):
    return subprocess.run([PYTHON, "-m", "busybox_engine", *args], cwd=TOP,
                          capture_output=True, text=True, timeout=30, **kw)


@pytest.fixture
def launcher(tmp_path):
    """A script that runs the dispatcher, as the binary would, under any name."""
    script = tmp_path / "busybox-engine"
    script.write_text(f"#!{PYTHON}\nimport sys\nsys.path.insert(0, {TOP!r})\n"
                      "from busybox_engine.dispatch import main\nsys.exit(main())\n")
    script.chmod(0o755)

    def as_name(name):
        link = tmp_path / name
        if not link.exists():
            link.symlink_to(script)
        return str(link)
    return as_name


def test_list_names_every_personality():
    r = run_module("--list")
    assert r.returncode == 0
    assert r.stdout.split() == ["containerd", "containerd-shim", "ctr", "docker", "dockerd", "pause", "runc"]


def test_unknown_personality_exits_127():
    r = run_module("nosuch", "--version")
    assert r.returncode == 127
    assert r.stderr == "nosuch: personality not found\n"


def test_unknown_name_under_symlink_exits_127(launcher):
    r = subprocess.run([launcher("frobnicate")], capture_output=True, text=True)
    assert r.returncode == 127
    assert r.stderr == "frobnicate: personality not found\n"


@pytest.mark.parametrize("name,first_line", [
    ("runc", "runc version "),
    ("docker", "Docker version "),
    ("dockerd", "Docker version "),
    ("containerd", "containerd busybox-engine "),
    ("containerd-shim", "containerd-shim busybox-engine "),
])
def test_each_name_by_symlink_and_by_argument(launcher, name, first_line):
    by_link = subprocess.run([launcher(name), "--version"], capture_output=True, text=True)
    by_arg = run_module(name, "--version")
    for r in (by_link, by_arg):
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(first_line)
    assert by_link.stdout == by_arg.stdout


def test_version_and_usage():
    r = run_module("--version")
    assert r.returncode == 0 and r.stdout.startswith("busybox-engine version ")
    r = run_module()
    assert r.returncode == 1 and "Usage:" in r.stdout
    r = run_module("--bogus")
    assert r.returncode == 2


def test_process_name_is_the_personality(tmp_path):
    sock = tmp_path / "c.sock"
    with Proc([PYTHON, "-m", "busybox_engine", "containerd", "--address", str(sock),
               "--root", str(tmp_path / "root"), "--state", str(tmp_path / "state")],
              cwd=TOP) as p:
        wait_for(sock.exists, what="containerd socket")
        assert comm(p.pid) == "containerd"


def test_install_from_source_refuses_clearly(tmp_path):
    r = run_module("--install", str(tmp_path / "bin"))
    assert r.returncode == 1
    assert "--install needs the built binary" in r.stderr


def test_default_libroot():
    assert install.default_libroot("/usr/local/bin") == "/usr/local/lib/busybox-engine"
    assert install.default_libroot("/tmp/x") == "/tmp/x/.busybox-engine"


def test_set_process_name_only_touches_comm():
    r = subprocess.run([PYTHON, "-c", "from busybox_engine import dispatch; "
                        "dispatch.set_process_name('containerd-shim'); "
                        "print(open('/proc/self/comm').read().strip())"],
                       cwd=TOP, capture_output=True, text=True)
    assert r.stdout.strip() == "containerd-shim"  # 15 bytes: fits exactly


def test_personality_table_modules_exist():
    for name, module in dispatch.PERSONALITIES.items():
        assert os.path.exists(os.path.join(TOP, "busybox_engine", "personalities", module + ".py")), name
