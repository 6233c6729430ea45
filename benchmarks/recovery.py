#!/usr/bin/env python3
"""Daemonless containers: N containers under our containerd, kill -9 of
containerd, time from restart until `tasks.list` shows all N running; and
the memory each shim costs, beside containerd 1.6's Go shim with Go runc.

    python benchmarks/recovery.py [--bindir DIR] [-n 20]
"""
import argparse
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import GoContainerd, OurContainerd, install, parent, per_process, reap_all  # noqa: E402

from busybox_engine.core_pyx import linux  # noqa: E402
from busybox_engine.rpc.client import Client  # noqa: E402
from busybox_engine.oci.defaultspec import default_spec  # noqa: E402
from tests.fixtures.bundles import make_rootfs  # noqa: E402


def ours(bindir, tmp, rootfs, n):
    ctd = OurContainerd(bindir, tmp).start()
    with Client(ctd.sock) as c:
        for i in range(n):
            spec = default_spec("default", f"c{i}")
            spec["process"]["args"] = ["sleep", "1000"]
            c.call("containers.create", id=f"c{i}", spec=spec, rootfs=rootfs)
            c.call("tasks.create", container_id=f"c{i}")
            c.call("tasks.start", container_id=f"c{i}")
        shims = [parent(t["pid"]) for t in c.call("tasks.list")]
    mem = per_process(shims)
    ctd.stop(signal.SIGKILL)
    t0 = time.perf_counter()
    ctd.start()
    with Client(ctd.sock) as c:
        tasks = c.call("tasks.list")
        dt = time.perf_counter() - t0
        assert len(tasks) == n and all(t["status"] == "running" for t in tasks), tasks
        for i in range(n):
            c.call("tasks.kill", container_id=f"c{i}", signal=9)
        for i in range(n):
            c.call("tasks.wait", container_id=f"c{i}")
            c.call("tasks.delete", container_id=f"c{i}")
            c.call("containers.delete", id=f"c{i}")
    ctd.stop()
    return dt, mem


def go_shims(tmp, rootfs, n):
    from supervisor import stop_containers, with_containers
    go = GoContainerd(tmp).start()
    try:
        _, mem = with_containers(go, "g", rootfs, n, "containerd-shim")
        stop_containers(go, "g", n)
        return mem
    finally:
        go.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bindir")
    p.add_argument("-n", type=int, default=20)
    args = p.parse_args()
    linux.set_child_subreaper(True)  # orphans come to us: reap our own
    tmp = tempfile.mkdtemp(prefix="bbe-rec-")
    try:
        bindir = install(tmp, args.bindir)
        rootfs = make_rootfs(os.path.join(tmp, "rootfs"))
        dt, (rss, pss) = ours(bindir, tmp, rootfs, args.n)
        print(f"{args.n} containers; containerd kill -9, restart: all listed running in {dt * 1000:.0f} ms")
        print(f"memory per shim with {args.n} running (RSS / PSS):")
        print(f"  ours                        {rss:6.1f} MB / {pss:5.1f} MB")
        if shutil.which("containerd") and shutil.which("ctr"):
            grss, gpss = go_shims(tmp, rootfs, args.n)
            print(f"  containerd 1.6 Go shim      {grss:6.1f} MB / {gpss:5.1f} MB")
    finally:
        reap_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
