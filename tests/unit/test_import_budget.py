"""What the per-container commands import, module by module.

runc, containerd-shim and docker start on every `docker run`; each module
they import costs start-up time (a C extension is a dlopen, `json` brings
re and its regex compiles, signal.py builds enums). These lists are the
budget: a new import on these paths fails here until it is added on
purpose (or made lazy)."""
import subprocess
import sys

import pytest

from tests.fixtures.bundles import make_bundle
from tests.helpers import PYTHON, TOP

OURS = {"busybox_engine", "busybox_engine._build_info", "busybox_engine.personalities"}

VERSION = {
    "runc": OURS | {"busybox_engine.personalities.runc", "busybox_engine.runtime",
                    "busybox_engine.runtime.version"},
    "containerd-shim": OURS | {"busybox_engine.personalities.containerd_shim"},
    "docker": OURS | {"busybox_engine.personalities.docker"},
    "pause": OURS - {"busybox_engine._build_info"} | {"busybox_engine.personalities.pause"},
}

# `runc run` of a plain bundle (no terminal, seccomp or hooks): the runtime's
# own modules, and of the standard library (beyond os, which the
# interpreter brings) only these
RUN_STDLIB = {"_json"}
RUN_CORE = {"_cython_3_3_1", "cython_runtime", "busybox_engine.core_pyx", "busybox_engine.core_pyx.linux",
            "busybox_engine.core_pyx.mounts", "busybox_engine.core_pyx.ns"}


def imported(personality: str, argv: list, check: bool = True) -> set:
    # FAST_EXIT personalities leave through os._exit: report on the way out
    code = ("import os, sys\nbase = set(sys.modules)\nexit = os._exit\n"
            "def report(rc):\n"
            "    sys.stderr.write('\\nMODULES ' + ' '.join(sorted(set(sys.modules) - base)))\n"
            "    sys.stderr.flush()\n"
            "    exit(rc)\n"
            "os._exit = report\n"
            "from busybox_engine.dispatch import run_personality\n"
            f"report(run_personality({personality!r}, {argv!r}))\n")
    r = subprocess.run([PYTHON, "-S", "-c", code], cwd=TOP, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 or not check, r.stderr
    assert "\nMODULES " in r.stderr, r.stderr
    modules = r.stderr.rpartition("\nMODULES ")[2].split()
    return set(modules) - {"busybox_engine.dispatch"}


@pytest.mark.parametrize("personality", sorted(VERSION))
def test_version_imports_its_list(personality):
    assert imported(personality, ["--version"]) == VERSION[personality]


@pytest.mark.skipif(sys.platform != "linux", reason="runs a container")
def test_runc_run_imports_its_list(tmp_path):
    bundle = make_bundle(str(tmp_path / "bundle"), ["true"])
    loaded = imported("runc", ["--root", str(tmp_path / "root"), "run", "-b", bundle, "budget1"])
    stdlib = {m for m in loaded if not m.startswith("busybox_engine")} - RUN_CORE
    assert stdlib == RUN_STDLIB, f"new: {sorted(stdlib - RUN_STDLIB)}, gone: {sorted(RUN_STDLIB - stdlib)}"
    assert {m for m in loaded if m.startswith("busybox_engine.core_pyx")} <= RUN_CORE
    ours = {m for m in loaded if m.startswith("busybox_engine.")}
    assert not {m for m in ours if m.startswith(("busybox_engine.cli", "busybox_engine.rpc",
                                                 "busybox_engine.shim", "busybox_engine.containerd"))}


@pytest.mark.parametrize("argv", [["state", "nosuch"], ["delete", "--force", "nosuch"], ["start", "nosuch"],
                                  ["kill", "nosuch", "KILL"]])
def test_the_per_call_commands_stay_small(tmp_path, argv):
    """What a shim runs on every container besides create: none of create's
    modules (namespaces, spec, sync), no json, re or enum."""
    loaded = imported("runc", ["--root", str(tmp_path), *argv], check=False)   # no such container
    heavy = {"json", "re", "enum", "signal", "select", "struct", "socket", "busybox_engine.core_pyx.ns",
             "busybox_engine.runtime.spec", "busybox_engine.runtime.sync", "busybox_engine.runtime.init",
             "busybox_engine.runtime.rootfs", "busybox_engine.runtime.hooks"}   # hooks: only when a spec has some
    assert not loaded & heavy, sorted(loaded & heavy)


@pytest.mark.parametrize("argv", [["tasks", "ls"], ["run", "--rm", "--rootfs", "/nonexistent", "c1", "true"]])
def test_ctr_talks_msgpack_without_the_msgpack_package(tmp_path, argv):
    """ctr reads and writes msgpack-RPC with rpc.minipack: msgpack (with the
    datetime and collections it imports) is the daemons' alone."""
    loaded = imported("ctr", ["--address", str(tmp_path / "none.sock"), *argv], check=False)
    assert "busybox_engine.rpc.client" in loaded
    assert not loaded & {"msgpack", "datetime", "collections", "json", "re", "enum", "asyncio"}, loaded


@pytest.mark.parametrize("personality", ["runc", "containerd-shim", "docker", "pause"])
def test_no_grpc_outside_containerd(personality):
    """The CRI's gRPC stack is containerd's alone, loaded with its first
    CRI connection: the per-container programs never see it."""
    loaded = imported(personality, ["--help"], check=False)
    assert not {m for m in loaded if m.split(".")[0] in ("grpclib", "google", "h2", "hpack", "multidict")
                or m.startswith("busybox_engine.cri")}
