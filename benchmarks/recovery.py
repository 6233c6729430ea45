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
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOP)

from busybox_engine.core_pyx import linux  # noqa: E402
from busybox_engine.rpc.client import Client  # noqa: E402
from busybox_engine.runtime.cli.spec import default_spec  # noqa: E402
from tests.fixtures.bundles import make_rootfs  # noqa: E402


def wait_socket(path, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            return
        except OSError:
            time.sleep(0.005)
        finally:
            s.close()
    raise SystemExit(f"nothing listens on {path}")


def memory(pids):
    rss = pss = 0
    for pid in pids:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
    n = max(1, len(pids))
    return rss / n / 1024, pss / n / 1024


def children_named(name):
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == name:
                        out.append(int(pid))
            except OSError:
                pass
    return out


def ours(bindir, tmp, rootfs, n):
    sock = os.path.join(tmp, "ours.sock")
    argv = [os.path.join(bindir, "containerd"), "--address", sock, "--root", os.path.join(tmp, "root"),
            "--state", os.path.join(tmp, "state")]
    ctd = subprocess.Popen(argv)
    wait_socket(sock)
    c = Client(sock)
    spec = default_spec()
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sleep", "1000"]
    for i in range(n):
        c.call("containers.create", id=f"c{i}", spec=spec, rootfs=rootfs)
        c.call("tasks.create", container_id=f"c{i}")
        c.call("tasks.start", container_id=f"c{i}")
    c.close()
    shims = [int(open(f"/proc/{t}/stat").read().rsplit(")", 1)[1].split()[1])
             for t in [int(open(os.path.join(tmp, "state", "default", f"c{i}", "shim", "init.pid")).read())
                       for i in range(n)]]
    mem = memory(shims)
    ctd.send_signal(signal.SIGKILL)
    ctd.wait()
    t0 = time.perf_counter()
    ctd = subprocess.Popen(argv)
    wait_socket(sock)
    c = Client(sock)
    tasks = c.call("tasks.list")
    dt = time.perf_counter() - t0
    assert len(tasks) == n and all(t["status"] == "running" for t in tasks), tasks
    for i in range(n):
        c.call("tasks.kill", container_id=f"c{i}", signal=9)
        c.call("tasks.wait", container_id=f"c{i}")
        c.call("tasks.delete", container_id=f"c{i}")
        c.call("containers.delete", id=f"c{i}")
    c.close()
    ctd.terminate()
    ctd.wait()
    return dt, mem


def go_shims(tmp, rootfs, n):
    d = os.path.join(tmp, "go")
    os.makedirs(d)
    cfg = os.path.join(d, "config.toml")
    with open(cfg, "w") as f:
        f.write(f'version = 2\nroot = "{d}/root"\nstate = "{d}/state"\n[grpc]\n  address = "{d}/c.sock"\n'
                f'[ttrpc]\n  address = "{d}/c.sock.ttrpc"\n[debug]\n  address = ""\n[metrics]\n  address = ""\n')
    ctd = subprocess.Popen(["containerd", "--config", cfg], stderr=subprocess.DEVNULL)
    try:
        return _go_shims(d, ctd, rootfs, n)
    finally:
        ctd.terminate()
        ctd.wait()
        for ctrl in os.listdir("/sys/fs/cgroup"):
            try:
                os.rmdir(os.path.join("/sys/fs/cgroup", ctrl, "default"))
            except OSError:
                pass


def _go_shims(d, ctd, rootfs, n):
    wait_socket(f"{d}/c.sock")
    before = set(children_named("containerd-shim"))
    for i in range(n):
        r = subprocess.run(["ctr", "-a", f"{d}/c.sock", "run", "-d", "--rootfs", rootfs, f"g{i}", "/bin/sleep", "1000"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"ctr run: {r.stderr.strip()}")
    shims = [p for p in children_named("containerd-shim") if p not in before]
    mem = memory(shims)
    for i in range(n):
        subprocess.run(["ctr", "-a", f"{d}/c.sock", "task", "kill", "-s", "KILL", f"g{i}"], capture_output=True)
    time.sleep(0.5)
    for i in range(n):
        subprocess.run(["ctr", "-a", f"{d}/c.sock", "task", "rm", "-f", f"g{i}"], capture_output=True)
        subprocess.run(["ctr", "-a", f"{d}/c.sock", "c", "rm", f"g{i}"], capture_output=True)
    return mem


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bindir")
    p.add_argument("-n", type=int, default=20)
    args = p.parse_args()
    linux.set_child_subreaper(True)  # orphans come to us: reap our own
    tmp = tempfile.mkdtemp(prefix="bbe-rec-")
    try:
        bindir = args.bindir
        if bindir is None:
            bindir = os.path.join(tmp, "bin")
            subprocess.run([os.path.join(TOP, "dist", "busybox-engine"), "--install", bindir], check=True)
        rootfs = make_rootfs(os.path.join(tmp, "rootfs"))
        dt, (rss, pss) = ours(bindir, tmp, rootfs, args.n)
        print(f"{args.n} containers; containerd kill -9, restart: all listed running in {dt * 1000:.0f} ms")
        print(f"memory per shim with {args.n} running (RSS / PSS):")
        print(f"  ours                        {rss:6.1f} MB / {pss:5.1f} MB")
        if shutil.which("containerd") and shutil.which("ctr"):
            grss, gpss = go_shims(tmp, rootfs, args.n)
            print(f"  containerd 1.6 Go shim      {grss:6.1f} MB / {gpss:5.1f} MB")
    finally:
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
