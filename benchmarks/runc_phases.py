#!/usr/bin/env python3
"""Where `runc run` of `true` spends its time, ours beside Go runc: the
moments a few syscalls happen, from `perf trace` (which slows both alike),
median ms from the runtime's execve:

  init     the container's init is cloned (Go: runc init's nsexec clone)
  pivot    pivot_root into the rootfs
  exec     execve of `true`
  exit     `true` exits
  end      runc exits (after delete)

    python benchmarks/runc_phases.py [--bindir DIR] [-n 9]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOP)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import install  # noqa: E402
from tests.fixtures.bundles import make_bundle  # noqa: E402

LINE = re.compile(r"\s*([\d.]+) \(.*?\): (\S+?)/(\d+) (\w+)\(")
PHASES = ("init", "pivot", "exec", "exit", "end")


def one_run(runc: str, root: str, bundle: str, cid: str, out: str) -> dict:
    subprocess.run(["perf", "trace", "-o", out, "-e", "clone,clone3,pivot_root,execve,exit_group",
                    runc, "--root", root, "run", "-b", bundle, cid],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    at = {}
    for line in open(out).read().splitlines():
        m = LINE.match(line)
        if not m:
            continue
        t, comm, sc = float(m.group(1)), m.group(2), m.group(4)
        if sc == "clone" and ("NEW" in line or "PARENT" in line) and "init" not in at:
            at["init"] = t
        elif sc == "pivot_root":
            at["pivot"] = t
        elif sc == "execve" and comm == "true":
            at.setdefault("exec", t)
        elif sc == "exit_group" and comm == "true":
            at["exit"] = t
        elif sc == "exit_group":
            at["end"] = t
    return at


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bindir")
    p.add_argument("-n", type=int, default=9)
    args = p.parse_args()
    if not shutil.which("perf"):
        raise SystemExit("needs perf (linux-perf)")
    tmp = tempfile.mkdtemp(prefix="bbe-phases-")
    try:
        bindir = install(tmp, args.bindir)
        bundle = make_bundle(os.path.join(tmp, "bundle"), ["true"])
        runtimes = [("Go runc", shutil.which("runc") or "/usr/sbin/runc"), ("ours", os.path.join(bindir, "runc"))]
        table = {}
        for label, runc in runtimes:
            root = os.path.join(tmp, f"root-{len(table)}")
            rows = [one_run(runc, root, bundle, f"p{i}", os.path.join(tmp, "trace")) for i in range(args.n + 1)][1:]
            table[label] = {k: statistics.median(r[k] for r in rows if k in r) for k in PHASES
                            if any(k in r for r in rows)}
        print(f"`runc run` of `true` under perf trace, ms from execve, median of {args.n}")
        print(f"  {'':8s}" + "".join(f"{label:>12s}" for label, _ in runtimes))
        for k in PHASES:
            print(f"  {k:8s}" + "".join(f"{table[label].get(k, float('nan')):12.1f}" for label, _ in runtimes))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
