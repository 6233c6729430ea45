"""The delivered single file: install, names, exit codes, portability."""
import os
import re
import shutil
import subprocess
import threading

import pytest

from busybox_engine.dispatch import PERSONALITIES
from busybox_engine.rpc.client import Client
from tests.engine import ensure_binary
from tests.helpers import Proc, accepts, wait_for


@pytest.fixture(scope="module")
def binary():
    return ensure_binary()


def run(argv, **kw):
    kw.setdefault("timeout", 120)
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def test_install_links_every_name_to_one_standalone_binary(installed):
    names = sorted(os.listdir(installed))
    assert set(PERSONALITIES) | {"busybox-engine"} <= set(names)
    targets = {os.path.realpath(os.path.join(installed, n)) for n in PERSONALITIES}
    assert len(targets) == 1
    target = targets.pop()
    # the unpacked standalone build, under a versioned directory
    assert re.search(r"/lib/busybox-engine/\d+\.\d+\.\d+-[0-9a-f]{12}/busybox-engine\.bin$", target)


@pytest.mark.parametrize("name,first", [
    ("runc", "runc version "), ("docker", "Docker version "), ("dockerd", "Docker version "),
    ("containerd", "containerd busybox-engine "),
    ("containerd-shim", "containerd-shim busybox-engine "),
])
def test_every_name_runs_as_its_personality(installed, binary, name, first):
    r = run([os.path.join(installed, name), "--version"])
    assert r.returncode == 0 and r.stdout.startswith(first), r.stderr
    # the same through the multiplexer, installed and as the single file
    for argv in ([os.path.join(installed, "busybox-engine"), name, "--version"],
                 [binary, name, "--version"]):
        r2 = run(argv)
        assert r2.returncode == 0 and r2.stdout == r.stdout, r2.stderr


def test_unknown_names_exit_127(installed, tmp_path, binary):
    link = tmp_path / "ctrl"
    link.symlink_to(os.path.realpath(os.path.join(installed, "runc")))
    r = run([str(link), "--version"])
    assert (r.returncode, r.stderr) == (127, "ctrl: personality not found\n")
    r = run([binary, "nosuch"])
    assert (r.returncode, r.stderr) == (127, "nosuch: personality not found\n")


def test_list_and_version(binary):
    r = run([binary, "--list"])
    assert r.returncode == 0 and r.stdout.split() == list(PERSONALITIES)
    r = run([binary, "--version"])
    assert r.returncode == 0 and re.match(r"busybox-engine version \S+, build [0-9a-f]{12}\n", r.stdout)


def test_copied_file_works_from_an_empty_directory_under_env_i(binary, tmp_path):
    work = tmp_path / "empty"
    work.mkdir()
    shutil.copy2(binary, work / "busybox-engine")
    r = run(["env", "-i", "./busybox-engine", "runc", "--version"], cwd=work)
    assert r.returncode == 0 and r.stdout.startswith("runc version"), r.stderr
    r = run(["env", "-i", "./busybox-engine", "--install", "./usr/local/bin"], cwd=work)
    assert r.returncode == 0, r.stderr
    # a DIR named bin gets its build in the sibling lib/ directory
    libroot = work / "usr" / "local" / "lib" / "busybox-engine"
    assert len([d for d in os.listdir(libroot) if not d.startswith(".")]) == 1
    r = run(["env", "-i", str(work / "usr/local/bin/runc"), "--version"], cwd="/")
    assert r.returncode == 0 and r.stdout.startswith("runc version"), r.stderr
    # the installed binary needs nothing beyond glibc and libz
    ldd = run(["ldd", os.path.realpath(work / "usr/local/bin/runc")])
    libs = {line.split()[0] for line in ldd.stdout.splitlines() if line.strip()}
    allowed = re.compile(r"^(linux-vdso\.so\.1|/lib64/ld-linux-x86-64\.so\.2|"
                         r"lib(c|m|dl|pthread|rt|util|z)\.so\.\d+)$")
    assert all(allowed.match(lib) for lib in libs), libs


def test_concurrent_installs_unpack_once(binary, tmp_path):
    results = []

    def install(i):
        results.append(run([binary, "--install", str(tmp_path / f"bin{i}"),
                            "--libdir", str(tmp_path / "lib")]))
    threads = [threading.Thread(target=install, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.returncode for r in results] == [0] * 4, [r.stderr for r in results]
    assert [d for d in os.listdir(tmp_path / "lib") if not d.startswith(".")] == \
        [os.path.basename(os.path.dirname(os.path.realpath(tmp_path / "bin0" / "runc")))]
    for i in range(4):
        assert run([str(tmp_path / f"bin{i}" / "runc"), "--version"]).returncode == 0
    # installing again over existing links is fine
    again = run([binary, "--install", str(tmp_path / "bin0"), "--libdir", str(tmp_path / "lib")])
    assert again.returncode == 0, again.stderr


def test_install_usage_errors(binary, tmp_path):
    assert run([binary, "--install"]).returncode == 2
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = run([binary, "--install", str(blocker / "bin")])
    assert r.returncode == 1 and f"install `{blocker}/bin`" in r.stderr


def test_compiled_daemon_runs_on_uvloop(installed, tmp_path):
    sock = tmp_path / "c.sock"
    with Proc([os.path.join(installed, "containerd"), "--address", str(sock),
               "--root", str(tmp_path / "r"), "--state", str(tmp_path / "s")]) as p:
        wait_for(lambda: accepts(sock) or p.popen.poll() is not None, what="containerd")
        with Client(str(sock)) as c:
            assert c.call("version")["event_loop"] == "uvloop.Loop"


@pytest.mark.parametrize("argv,expect", [
    (["ctr", "--help"], "usage: ctr"), (["ctr"], "usage: ctr"), (["ctr", "-h"], "usage: ctr"),
    (["runc", "--help"], "runc - Open Container Initiative runtime"),
    (["containerd-shim", "--help"], "usage: containerd-shim"),
])
def test_usage_texts_in_the_compiled_build(installed, argv, expect):
    """The compiled build has no docstrings: usage text is never one."""
    r = run([os.path.join(installed, argv[0]), *argv[1:]])
    assert r.returncode == 0 and expect in r.stdout, r.stderr
    assert "Traceback" not in r.stderr


def test_a_bad_command_line_is_one_line(installed):
    for argv in (["ctr", "-a", "/nonexistent.sock", "tasks", "ls"], ["ctr", "tasks", "kill", "-s", "NOPE", "x"],
                 ["ctr", "--bogus"], ["runc", "kill"], ["containerd-shim", "--id"]):
        r = run([os.path.join(installed, argv[0]), *argv[1:]])
        assert r.returncode != 0 and "Traceback" not in r.stderr, (argv, r.stderr)
        assert 1 <= len([line for line in r.stderr.splitlines() if line.strip()]) <= 6, (argv, r.stderr)
