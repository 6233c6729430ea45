#!/usr/bin/env python3
"""Start-up time: median wall time of N starts of each command, side by side.

    python benchmarks/startup.py [--bindir DIR] [-n 30]

DIR holds the installed personalities (busybox-engine --install DIR); without
it the script installs dist/busybox-engine into a temporary directory.
Ratios are against Go runc (`/usr/sbin/runc --version`).
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


def time_starts(argv: list, n: int, env=None) -> float:
    """Median seconds from spawn to exit over n runs (after one warm-up)."""
    samples = []
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for i in range(n + 1):
            t0 = time.perf_counter()
            pid = os.posix_spawn(argv[0], argv, env if env is not None else os.environ,
                                 file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)])
            _, status = os.waitpid(pid, 0)
            dt = time.perf_counter() - t0
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"{' '.join(argv)} failed: status {status}")
            if i:
                samples.append(dt)
    finally:
        os.close(devnull)
    return statistics.median(samples)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bindir")
    p.add_argument("-n", type=int, default=30)
    args = p.parse_args()
    tmp = None
    bindir = args.bindir
    if bindir is None:
        tmp = tempfile.mkdtemp(prefix="bbe-bench-")
        bindir = os.path.join(tmp, "bin")
        subprocess.run([os.path.join(TOP, "dist", "busybox-engine"), "--install", bindir], check=True)
    py = os.path.realpath(sys.executable)
    cases = [
        ("Go runc: runc --version", [shutil.which("runc") or "/usr/sbin/runc", "--version"], None),
        ("python -S -c pass", [py, "-S", "-c", "pass"], None),
        ("ours: runc --version", [os.path.join(bindir, "runc"), "--version"], None),
        ("ours: docker --version", [os.path.join(bindir, "docker"), "--version"], None),
        ("ours: containerd-shim --version", [os.path.join(bindir, "containerd-shim"), "--version"], None),
        ("source: python -m busybox_engine runc --version",
         [py, "-m", "busybox_engine", "runc", "--version"], dict(os.environ, PYTHONPATH=TOP)),
    ]
    if shutil.which("docker"):
        cases.insert(1, ("Go docker: docker --version", [shutil.which("docker"), "--version"], None))
    try:
        results = [(label, time_starts(argv, args.n, env)) for label, argv, env in cases]
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    base = results[0][1]
    print(f"start-up, median of {args.n} runs (ratio to Go runc)")
    for label, t in results:
        print(f"  {label:<50} {t * 1000:7.2f} ms  {t / base:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
