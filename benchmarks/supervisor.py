#!/usr/bin/env python3
"""containerd + shim + runc, ours beside Debian's containerd 1.6 with its Go
shim and Go runc, in the same run:
  - `ctr run --rm --rootfs DIR ID true` (create, start, wait, delete), median;
    ours also through one RPC connection, without a ctr process per run;
  - memory of containerd idle and with N containers running, and per shim.

    python benchmarks/supervisor.py [--bindir DIR] [-n 20] [--containers 50]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import GoContainerd, OurContainerd, install, memory, parent, per_process, reap_all  # noqa: E402

from busybox_engine.core_pyx import linux  # noqa: E402
from busybox_engine.rpc.client import Client  # noqa: E402
from busybox_engine.oci.defaultspec import default_spec  # noqa: E402
from tests.fixtures.bundles import make_rootfs  # noqa: E402


def timed_runs(argv_for, n: int) -> float:
    samples = []
    for i in range(n + 1):  # the first run warms caches and is not counted
        t0 = time.perf_counter()
        r = subprocess.run(argv_for(i), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(argv_for(i))}: {r.stderr.decode().strip()[:300]}")
        if i:
            samples.append(dt)
    return statistics.median(samples)


def rpc_runs(sock: str, rootfs: str, n: int) -> float:
    samples = []
    with Client(sock) as c:
        for i in range(n + 1):
            cid = f"r{i}"
            spec = default_spec("default", cid)
            spec["process"]["args"] = ["true"]
            t0 = time.perf_counter()
            c.call("containers.create", id=cid, spec=spec, rootfs=rootfs)
            c.call("tasks.create", container_id=cid)
            c.call("tasks.start", container_id=cid)
            status = c.call("tasks.wait", container_id=cid)["exit_status"]
            c.call("tasks.delete", container_id=cid)
            c.call("containers.delete", id=cid)
            dt = time.perf_counter() - t0
            assert status == 0, status
            if i:
                samples.append(dt)
    return statistics.median(samples)


def with_containers(ctd, prefix: str, rootfs: str, n: int, shim_name: str) -> tuple:
    """Start n `sleep` containers; (containerd RSS, PSS), (per-shim RSS, PSS)."""
    for i in range(n):
        r = subprocess.run(ctd.ctr + ["run", "-d", "--rootfs", rootfs, f"{prefix}{i}", "/bin/sleep", "1000"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"ctr run -d: {r.stderr.strip()}")
    time.sleep(1)  # let every shim settle
    from tests.helpers import comm
    inits = [int(line.split()[1]) for line in
             subprocess.run(ctd.ctr + ["tasks", "ls"], capture_output=True, text=True).stdout.splitlines()[1:]
             if line.startswith(prefix)]
    shims = sorted({parent(p) for p in inits})
    assert len(shims) == n and all(comm(s) == shim_name for s in shims), (len(shims), n)
    return memory(ctd.pids()), per_process(shims)


def stop_containers(ctd, prefix: str, n: int) -> None:
    for i in range(n):
        subprocess.run(ctd.ctr + ["tasks", "kill", "-s", "KILL", f"{prefix}{i}"], capture_output=True)
    time.sleep(0.5)
    for i in range(n):
        subprocess.run(ctd.ctr + ["tasks", "rm", f"{prefix}{i}"], capture_output=True)
        subprocess.run(ctd.ctr + ["containers", "rm", f"{prefix}{i}"], capture_output=True)


def measure(ctd, label: str, rootfs: str, args, shim_name: str, rpc: bool) -> dict:
    out = {"label": label}
    out["run"] = timed_runs(lambda i: ctd.ctr + ["run", "--rm", "--rootfs", rootfs, f"t{i}", "/bin/true"], args.n)
    if rpc:
        out["rpc"] = rpc_runs(ctd.sock, rootfs, args.n)
    time.sleep(1)
    out["idle"] = memory(ctd.pids())
    out["busy"], out["shim"] = with_containers(ctd, "m", rootfs, args.containers, shim_name)
    stop_containers(ctd, "m", args.containers)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bindir")
    p.add_argument("-n", type=int, default=20)
    p.add_argument("--containers", type=int, default=50)
    args = p.parse_args()
    linux.set_child_subreaper(True)  # orphaned shims come to us: we reap our own
    tmp = tempfile.mkdtemp(prefix="bbe-sup-")
    results = []
    try:
        bindir = install(tmp, args.bindir)
        rootfs = make_rootfs(os.path.join(tmp, "rootfs"))
        if shutil.which("containerd") and shutil.which("ctr"):
            go = GoContainerd(tmp).start()
            try:
                results.append(measure(go, "containerd 1.6 + Go shim + Go runc", rootfs, args,
                                       "containerd-shim", rpc=False))
            finally:
                go.stop()
        ours = OurContainerd(bindir, tmp).start()
        try:
            results.append(measure(ours, "ours", rootfs, args, "containerd-shim", rpc=True))
        finally:
            ours.stop()
    finally:
        reap_all()
        shutil.rmtree(tmp, ignore_errors=True)
    base = results[0]
    ratio = (lambda a, b: f"{a / b:5.2f}x") if len(results) > 1 else (lambda a, b: "")
    print(f"`ctr run --rm --rootfs DIR ID true`: create+start+wait+delete, median of {args.n}")
    for r in results:
        print(f"  {r['label']:38s} {r['run'] * 1000:7.1f} ms  {ratio(r['run'], base['run'])}")
        if "rpc" in r:
            print(f"  {'ours, one RPC connection (no ctr)':38s} {r['rpc'] * 1000:7.1f} ms  "
                  f"{ratio(r['rpc'], base['run'])}")
    print("memory, RSS / PSS in MB (ours: containerd + its shim zygote)")
    for key, what in (("idle", "containerd idle"), ("busy", f"containerd, {args.containers} running"),
                      ("shim", f"per shim, {args.containers} running")):
        for r in results:
            rss, pss = r[key]
            print(f"  {what:28s} {r['label']:38s} {rss:6.1f} / {pss:5.1f}   PSS {ratio(pss, base[key][1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
