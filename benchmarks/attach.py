#!/usr/bin/env python3
"""A container's output through an attached client, ours beside Docker's:

  - 1 GiB (`dd if=/dev/zero bs=1M count=1024`) from `ctr run --rm` and from
    Docker 20.10's `docker run --rm`, read by this script as it comes;
  - a reader that stops for 10 s a tenth of the way in: the container
    waits for it (as it would on a pipe), containerd's and the shim's
    memory must not grow with the bytes it is not reading (< 10 MB), and
    not a byte is lost.

    python benchmarks/attach.py [--bindir DIR] [-n 3] [--mib 1024] [--pause 10] [--no-docker]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import OurContainerd, dockerd, install, reap_all  # noqa: E402

from busybox_engine.core_pyx import linux  # noqa: E402
from busybox_engine.image import mkimage  # noqa: E402


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1]) / 1024


def read_all(argv: list, env=None, pause_at: int = -1, pause: float = 0, during_pause=None) -> tuple:
    """Run argv, read its stdout as it comes (pausing once after pause_at
    bytes, calling during_pause() each 0.5 s meanwhile); (bytes, seconds)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, bufsize=0)
    got = 0
    paused = pause_at < 0
    while True:
        chunk = p.stdout.read(1 << 20)
        if not chunk:
            break
        got += len(chunk)
        if not paused and got >= pause_at:
            paused = True
            end = time.monotonic() + pause
            while time.monotonic() < end:
                if during_pause:
                    during_pause()
                time.sleep(0.5)
    err = p.stderr.read()
    if p.wait() != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {p.returncode}: {err.decode()[-300:]}")
    return got, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bindir")
    ap.add_argument("-n", type=int, default=3)
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--pause", type=float, default=10.0)
    ap.add_argument("--no-docker", action="store_true", help="ours only")
    args = ap.parse_args()
    linux.set_child_subreaper(True)
    tmp = tempfile.mkdtemp(prefix="bbe-attach-")
    want = args.mib << 20
    dd = ["dd", "if=/dev/zero", "bs=1M", f"count={args.mib}"]
    results = {}
    try:
        bindir = install(tmp, args.bindir)
        image = mkimage.docker_archive(os.path.join(tmp, "busybox.tar"),
                                       [mkimage.layer_tar(mkimage.busybox_rootfs(os.path.join(tmp, "rootfs")))],
                                       "busybox:latest")
        ctd = OurContainerd(bindir, tmp).start()
        try:
            subprocess.run(ctd.ctr + ["images", "import", image], check=True, capture_output=True)
            times = []
            for i in range(args.n):
                got, dt = read_all(ctd.ctr + ["run", "--rm", "busybox:latest", f"a{i}", *dd])
                assert got == want, f"ours: {got} bytes of {want}"
                times.append(dt)
            results["ours (ctr run --rm)"] = times
            # the reader that stops
            cid = "slow"
            peak = {"containerd": 0.0, "shim": 0.0}
            base = {}

            def sample():
                pid_file = os.path.join(ctd.state, "tasks", "default", cid, "shim", "shim.pid")
                pids = {"containerd": ctd.proc.pid}
                try:
                    pids["shim"] = int(open(pid_file).read().split()[0])
                except OSError:
                    pass  # (a build without shim pid files: containerd only)
                for name, pid in pids.items():
                    mb = rss_mb(pid)
                    base.setdefault(name, mb)
                    peak[name] = max(peak[name], mb - base[name])
            got, dt = read_all(ctd.ctr + ["run", "--rm", "busybox:latest", cid, *dd],
                               pause_at=want // 10, pause=args.pause, during_pause=sample)
            slow = (got, dt, peak)
        finally:
            ctd.stop()
        with dockerd() as d:
            if d is not None and not args.no_docker:
                subprocess.run([d.cli, "load", "-q", "-i", image], check=True, capture_output=True, env=d.env)
                times = []
                for i in range(args.n):
                    got, dt = read_all([d.cli, "run", "--rm", "--network", "none", "busybox:latest", *dd],
                                       env=d.env)
                    assert got == want, f"docker: {got} bytes of {want}"
                    times.append(dt)
                results["Docker 20.10 (docker run --rm)"] = times
    finally:
        reap_all()
        subprocess.run(["rm", "-rf", tmp])
    print(f"{args.mib} MiB of a container's stdout through an attached client, median of {args.n}")
    docker_t = statistics.median(results["Docker 20.10 (docker run --rm)"]) \
        if "Docker 20.10 (docker run --rm)" in results else None
    for label, runs in results.items():
        t = statistics.median(runs)
        ratio = f"  {docker_t / t:6.1f}x Docker's speed" if docker_t else ""
        print(f"  {label:32s} {t:7.2f} s  {args.mib / t:8.1f} MiB/s{ratio}   (runs: "
              f"{' '.join(f'{x:.2f}' for x in runs)})")
    got, dt, peak = slow
    print(f"a reader that stops for {args.pause:g} s after {args.mib // 10} MiB (ours): "
          f"{got} of {want} bytes, {'none' if got == want else want - got} lost, {dt:.1f} s;")
    print(f"  memory growth meanwhile: containerd {peak['containerd']:+.1f} MB RSS, "
          f"shim {peak['shim']:+.1f} MB RSS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
