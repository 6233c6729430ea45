#!/usr/bin/env python3
"""Container start-to-exit time: `runc run` of `true` in a busybox bundle,
ours beside Go runc, and crun (on a hybrid host, which crun refuses, in a
mount namespace that shows it only the v1 controllers; Go runc there too).

    python benchmarks/runtime.py [--bindir DIR] [-n 20]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOP)

from tests.fixtures.bundles import make_bundle  # noqa: E402


def bench(argv_for, n: int) -> float | None:
    samples = []
    for i in range(n + 1):
        t0 = time.perf_counter()
        r = subprocess.run(argv_for(i), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            sys.stderr.write(f"  {argv_for(i)[0]}: {r.stderr.decode().strip()[:200]}\n")
            return None
        if i:
            samples.append(dt)
    return statistics.median(samples)


UNIFIED = "/sys/fs/cgroup/unified"
# argv prefix: the rest runs in a private mount namespace without the cgroup2 mount
V1_ONLY = ["unshare", "-m", "--propagation", "private", "sh", "-c",
           f'umount {UNIFIED} && exec "$0" "$@"']


def hybrid() -> bool:
    """v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified."""
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == UNIFIED and " - cgroup2 " in line for line in f)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bindir")
    p.add_argument("-n", type=int, default=20)
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="bbe-rt-")
    try:
        bindir = args.bindir
        if bindir is None:
            bindir = os.path.join(tmp, "bin")
            subprocess.run([os.path.join(TOP, "dist", "busybox-engine"), "--install", bindir], check=True)
        bundle = make_bundle(os.path.join(tmp, "bundle"), ["true"])
        runtimes = [("Go runc", shutil.which("runc") or "/usr/sbin/runc"),
                    ("crun", shutil.which("crun")),
                    ("ours", os.path.join(bindir, "runc"))]
        results = []
        for label, binary in runtimes:
            if not binary:
                continue
            root = os.path.join(tmp, f"root-{label.replace(' ', '-')}")
            t = bench(lambda i: [binary, "--root", root, "run", "-b", bundle, f"c{i}"], args.n)
            results.append((label, t))
        if shutil.which("crun") and hybrid():
            # crun refuses a hybrid host; in a mount namespace without the
            # cgroup2 mount it sees pure v1. Go runc through the same wrapper
            # tells what the wrapper costs.
            for label, binary in (("Go runc, v1-only ns", runtimes[0][1]), ("crun, v1-only ns", shutil.which("crun"))):
                root = os.path.join(tmp, f"root-{label.split(',')[0].replace(' ', '-')}-ns")
                t = bench(lambda i: V1_ONLY + [binary, "--root", root, "run", "-b", bundle, f"n{i}"], args.n)
                results.append((label, t))
        base = results[0][1]
        print(f"`runc run` of `true` (create, start, wait, delete), median of {args.n}")
        for label, t in results:
            if t is None:
                print(f"  {label:<20} failed on this host")
            else:
                print(f"  {label:<20} {t * 1000:8.1f} ms  {t / base:5.2f}x")
        # memory charged to the container before (and while) `cat` runs: the
        # runtime's own pages in the container's cgroup count against -m
        mem_bundle = make_bundle(os.path.join(tmp, "mem"),
                                 ["cat", "/sys/fs/cgroup/memory/memory.max_usage_in_bytes"])
        print("peak memory of the container's cgroup (memory.max_usage_in_bytes, container runs cat)")
        for label, binary in runtimes:
            if not binary or label == "crun":
                continue
            root = os.path.join(tmp, f"mroot-{label.replace(' ', '-')}")
            peaks = []
            for i in range(5):
                r = subprocess.run([binary, "--root", root, "run", "-b", mem_bundle, f"m{i}"],
                                   capture_output=True, text=True)
                if r.returncode == 0 and r.stdout.strip().isdigit():
                    peaks.append(int(r.stdout))
            if peaks:
                print(f"  {label:<10} {statistics.median(peaks) / 1024:8.0f} KiB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
