#!/usr/bin/env python3
"""Our runc under Docker: Debian's dockerd 20.10 with two runtimes added
(`--add-runtime`), ours and Go runc, each behind a wrapper that times
every call its Go shim makes; `docker run --rm --runtime R busybox true`
taking turns, in one run. Prints the median `docker run` and, per runc
verb (create, start, delete...), the median time of one call and how many
calls a run makes.

    python benchmarks/docker_runtime.py [--bindir DIR] [-n 20]
"""
import argparse
import collections
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import dockerd, install  # noqa: E402

from busybox_engine.image import mkimage  # noqa: E402

BOX = "busybox:latest"

# bash's $EPOCHREALTIME costs no process; the verb is the first word that
# is neither a global flag nor its value
WRAPPER = """#!/bin/bash
t0=$EPOCHREALTIME
"{real}" "$@"
rc=$?
t1=$EPOCHREALTIME
verb=
skip=
for a in "$@"; do
    if [ -n "$skip" ]; then skip=; continue; fi
    case "$a" in
        --root|--log|--log-format|--criu|--rootless) skip=1 ;;
        -*) ;;
        *) verb=$a; break ;;
    esac
done
echo "$verb ${{t0/./}} ${{t1/./}}" >> "{log}"
exit $rc
"""


def wrapper(tmp: str, name: str, real: str) -> tuple:
    path = os.path.join(tmp, f"runtime-{name}")
    log = os.path.join(tmp, f"calls-{name}.log")
    with open(path, "w") as f:
        f.write(WRAPPER.format(real=real, log=log))
    os.chmod(path, 0o755)
    return path, log


def calls(log: str) -> list:
    """[(verb, seconds)] from a wrapper's log."""
    out = []
    if os.path.exists(log):
        for line in open(log).read().splitlines():
            verb, t0, t1 = line.split()
            out.append((verb, (int(t1) - int(t0)) / 1e6))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bindir", help="an installed busybox-engine (default: install dist/busybox-engine)")
    p.add_argument("-n", type=int, default=20)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bbe-dkrt-") as tmp:
        os.chmod(tmp, 0o755)
        bindir = install(tmp, args.bindir)
        runtimes = {"go": wrapper(tmp, "go", "/usr/sbin/runc"),
                    "ours": wrapper(tmp, "ours", os.path.join(bindir, "runc"))}
        image = os.path.join(tmp, "busybox.tar")
        mkimage.main(["--tag", BOX, image])
        extra = [f"--add-runtime={name}={path}" for name, (path, _) in runtimes.items()]
        with dockerd(extra) as d:
            if d is None:
                raise SystemExit("Debian's dockerd is not installed")
            subprocess.run([d.cli, "load", "-i", image], env=d.env, check=True, capture_output=True)
            runs = collections.defaultdict(list)
            for i in range(args.n + 1):   # the first round warms caches and is not counted
                for name in runtimes:
                    log = runtimes[name][1]
                    if i == 1 and os.path.exists(log):
                        os.unlink(log)
                    t0 = time.perf_counter()
                    r = subprocess.run([d.cli, "run", "--rm", "--network", "none", "--runtime", name, BOX, "true"],
                                       env=d.env, capture_output=True, text=True)
                    dt = time.perf_counter() - t0
                    if r.returncode != 0:
                        raise SystemExit(f"docker run --runtime {name}: {r.stderr.strip()}")
                    if i:
                        runs[name].append(dt)
        per = {name: collections.defaultdict(list) for name in runtimes}
        for name in runtimes:
            for verb, t in calls(runtimes[name][1]):
                per[name][verb].append(t)
    print(f"dockerd 20.10 + its Go shim, `docker run --rm --network none busybox true`, median of {args.n}")
    go_run = statistics.median(runs["go"])
    for name in ("go", "ours"):
        t = statistics.median(runs[name])
        print(f"  {'Go runc' if name == 'go' else 'our runc':10s} {t * 1000:8.1f} ms   {t / go_run:5.2f}x")
    print("per runc call, median ms (calls per docker run)")
    verbs = sorted(set(per["go"]) | set(per["ours"]), key=lambda v: -len(per["go"].get(v, [])))
    print(f"  {'verb':10s} {'Go runc':>16s} {'our runc':>16s} {'ratio':>7s}")
    for verb in verbs:
        cells = []
        for name in ("go", "ours"):
            ts = per[name].get(verb, [])
            cells.append(f"{statistics.median(ts) * 1000:8.1f} ({len(ts) / args.n:3.1f})" if ts else f"{'-':>16s}")
        ratio = ""
        if per["go"].get(verb) and per["ours"].get(verb):
            ratio = f"{statistics.median(per['ours'][verb]) / statistics.median(per['go'][verb]):6.2f}x"
        print(f"  {verb:10s} {cells[0]:>16s} {cells[1]:>16s} {ratio:>7s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
