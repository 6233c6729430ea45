#!/usr/bin/env python3
"""The docker client: our `docker` beside the Go docker CLIs (28.x at
/usr/local/bin/docker, Debian's 20.10 at /usr/bin/docker) against the same
daemon (ours, with 10 containers running), in one run: wall time (median
of N) and peak memory (max RSS, from wait4) of

  - docker ps
  - docker inspect -f '{{.State.Status}}' NAME
  - docker run --rm --network none busybox true (client and daemon together)

    python benchmarks/cli.py [--bindir DIR] [-n 20]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import install, our_dockerd  # noqa: E402

from busybox_engine.image import mkimage  # noqa: E402

BOX = "busybox:latest"


def once(argv: list, env: dict) -> tuple:
    """(seconds, peak RSS in MiB) of one run."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed with {p.returncode}")
    return elapsed, usage.ru_maxrss / 1024


def measure(argv: list, env: dict, n: int) -> tuple:
    once(argv, env)   # warm the page cache
    runs = [once(argv, env) for _ in range(n)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--bindir")
    p.add_argument("-n", type=int, default=20)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bbe-cli-") as tmp:
        bindir = install(tmp, args.bindir)
        image = os.path.join(tmp, "busybox.tar")
        mkimage.main(["--tag", BOX, image])
        with our_dockerd(bindir) as d:
            env = d.env
            subprocess.run([d.cli, "load", "-i", image], env=env, check=True, capture_output=True)
            names = [f"b{i}" for i in range(10)]
            for n in names:
                subprocess.run([d.cli, "run", "-d", "--network", "none", "--name", n, BOX, "sleep", "100000"],
                               env=env, check=True, capture_output=True)
            clients = [("ours", os.path.join(bindir, "docker"))]
            for label, path in (("Go docker 28", "/usr/local/bin/docker"), ("Go docker 20.10", "/usr/bin/docker")):
                if os.path.exists(path):
                    clients.append((label, path))
            cases = [("docker ps (10 running)", ["ps"]),
                     ("docker inspect -f", ["inspect", "-f", "{{.State.Status}}", "b0"]),
                     ("docker run --rm true", ["run", "--rm", "--network", "none", BOX, "true"])]
            results = {}
            for label, path in clients:
                for case, argv in cases:
                    results[(label, case)] = measure([path, *argv], env, args.n)
            try:
                subprocess.run([d.cli, "rm", "-f", *names], env=env, capture_output=True)
            finally:
                pass
    ref = "Go docker 28" if any(label == "Go docker 28" for label, _ in clients) else clients[-1][0]
    print(f"\nmedian wall time of {args.n} runs, and peak RSS; ratios against {ref}")
    header = f"{'':34}" + "".join(f"{label:>18}" for label, _ in clients) + f"{'ours/' + ref:>22}"
    print(header)
    for case, _argv in cases:
        wall = [results[(label, case)][0] for label, _ in clients]
        mem = [results[(label, case)][1] for label, _ in clients]
        r_wall = results[("ours", case)][0] / results[(ref, case)][0]
        r_mem = results[("ours", case)][1] / results[(ref, case)][1]
        print(f"{case + ' (ms)':34}" + "".join(f"{w * 1000:18.1f}" for w in wall) + f"{r_wall:21.2f}x")
        print(f"{case + ' peak (MiB)':34}" + "".join(f"{m:18.1f}" for m in mem) + f"{r_mem:21.2f}x")


if __name__ == "__main__":
    main()
