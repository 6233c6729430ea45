#!/usr/bin/env python3
"""docker build (the classic builder, DOCKER_BUILDKIT=0, through the same
20.10 CLI): our dockerd beside Docker 20.10 in one run, both with
--network none (the RUN containers too); medians of N:

  - a 7-step Dockerfile (FROM busybox, ARG, ENV, RUN, COPY of a 1 MiB
    context, WORKDIR, CMD) built with --no-cache
  - the same build again, every step from the cache

    python benchmarks/build.py [--bindir DIR] [-n 5]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import dockerd, install, our_dockerd  # noqa: E402

from busybox_engine.image import mkimage  # noqa: E402

BOX = "busybox:latest"
DOCKERFILE = """FROM busybox
ARG VERSION=1
ENV APP=/app
RUN echo "v$VERSION" > /version && mkdir -p $APP
COPY data $APP/data
WORKDIR $APP
CMD ["cat", "/version"]
"""


def docker(d, *args):
    env = dict(d.env, DOCKER_BUILDKIT="0")
    r = subprocess.run([d.cli, *args], capture_output=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"docker {' '.join(args)}: {r.stderr.decode(errors='replace')}")
    return r


def measure(d, ctx: str, n: int) -> dict:
    def timed(*args) -> float:
        t0 = time.perf_counter()
        docker(d, "build", "--network", "none", *args, "-t", "bench:1", ctx)
        return time.perf_counter() - t0
    timed("--no-cache")   # warm: the base image's layers read once
    fresh = [timed("--no-cache") for _ in range(n)]
    cached = [timed() for _ in range(n)]
    return {"fresh": statistics.median(fresh), "cached": statistics.median(cached)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bindir", help="an installed busybox-engine (default: install dist/busybox-engine)")
    p.add_argument("-n", type=int, default=5)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bbe-build-") as tmp:
        bindir = install(tmp, args.bindir)
        image = os.path.join(tmp, "busybox.tar")
        mkimage.main(["--tag", BOX, image])
        ctx = os.path.join(tmp, "ctx")
        os.makedirs(os.path.join(ctx, "data"))
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write(DOCKERFILE)
        for i in range(16):
            with open(os.path.join(ctx, "data", f"f{i}"), "wb") as f:
                f.write(os.urandom(64 << 10))
        results = {}
        with our_dockerd(bindir) as ours:
            docker(ours, "load", "-i", image)
            results["ours"] = measure(ours, ctx, args.n)
        with dockerd() as real:
            if real is not None:
                docker(real, "load", "-i", image)
                results["Docker 20.10"] = measure(real, ctx, args.n)
    print(f"\n{'docker build, median of ' + str(args.n) + ' (s)':44}{'ours':>12}{'Docker 20.10':>16}{'ours/Docker':>14}")
    for key, text in (("fresh", "7 steps, --no-cache"), ("cached", "7 steps, all from the cache")):
        a = results["ours"][key]
        b = results.get("Docker 20.10", {}).get(key)
        fb = f"{b:.3f}" if b else "-"
        ratio = f"{a / b:.2f}x" if b else ""
        print(f"{text:44}{a:12.3f}{fb:>16}{ratio:>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
