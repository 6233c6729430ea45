#!/usr/bin/env python3
"""Pull throughput: one image (busybox + /usr/lib/python3 + /usr/share/doc
of this host, many small files like a distribution image) from a local
docker-registry, pulled and unpacked by our containerd (`ctr images pull`)
and by Docker 20.10 (`docker pull`), in the same run.

    python benchmarks/pull.py [--bindir DIR] [-n 3]
"""
import argparse
import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import OurContainerd, install, reap_all, wait_socket  # noqa: E402

from busybox_engine.core_pyx import linux  # noqa: E402
from busybox_engine.image import mkimage  # noqa: E402
from tests.fixtures.registry import RegistryServer  # noqa: E402

HOST_DIRS = ("usr/lib/python3", "usr/share/doc")


def dir_layer(path: str, arcname: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(path, arcname=arcname)
    return buf.getvalue()


def make_image(tmp: str) -> tuple:
    """(archive path, unpacked bytes)."""
    layers = [mkimage.layer_tar(mkimage.busybox_rootfs(os.path.join(tmp, "rootfs")))]
    layers += [dir_layer("/" + d, d) for d in HOST_DIRS if os.path.isdir("/" + d)]
    out = os.path.join(tmp, "bench.tar")
    mkimage.docker_archive(out, layers, "bench:1")
    return out, sum(len(layer) for layer in layers)


def settle() -> None:
    """Let the disk finish what the last run's delete left it (ext4 here
    discards freed blocks), so neither side pays for the other's."""
    os.sync()
    time.sleep(1)


def timed(argv: list, env=None) -> float:
    settle()
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: {r.stderr.strip()[:300]}")
    return dt


@contextlib.contextmanager
def ours(bindir: str, tmp: str, ref: str):
    """Our containerd; yields one timed pull (the image removed after)."""
    ctd = OurContainerd(bindir, tmp).start()
    try:
        def once() -> float:
            t = timed(ctd.ctr + ["images", "pull", "--plain-http", ref])
            subprocess.run(ctd.ctr + ["images", "rm", ref], capture_output=True, check=True)
            return t
        yield once
    finally:
        ctd.stop()


@contextlib.contextmanager
def docker(tmp: str, registry: str, ref: str):
    """Debian's dockerd 20.10; yields one timed `docker pull` (or None)."""
    if not shutil.which("dockerd"):
        yield None
        return
    d = tempfile.mkdtemp(prefix="bbe-dk-")  # short: dockerd's containerd socket lives under it
    sock = os.path.join(d, "docker.sock")
    p = subprocess.Popen(["dockerd", "-H", f"unix://{sock}", "--data-root", f"{d}/data", "--exec-root",
                          f"{d}/exec", "--pidfile", f"{d}/pid", "--bridge=none", "--iptables=false",
                          "--insecure-registry", registry], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cli = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"
    env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")
    try:
        wait_socket(sock, 60)
        deadline = time.monotonic() + 60
        while subprocess.run([cli, "version"], capture_output=True, env=env).returncode != 0:
            if time.monotonic() > deadline:
                raise SystemExit("dockerd did not come up")
            time.sleep(0.2)

        def once() -> float:
            t = timed([cli, "pull", "-q", ref], env)
            subprocess.run([cli, "rmi", ref], capture_output=True, env=env, check=True)
            return t
        yield once
    finally:
        p.terminate()
        p.wait()
        subprocess.run(["umount", "-R", f"{d}/data"], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bindir")
    p.add_argument("-n", type=int, default=3)
    args = p.parse_args()
    linux.set_child_subreaper(True)
    tmp = tempfile.mkdtemp(prefix="bbe-pull-")
    reg = None
    try:
        bindir = install(tmp, args.bindir)
        archive, unpacked = make_image(tmp)
        reg = RegistryServer(os.path.join(tmp, "registry")).start()
        reg.push_archive(archive, "bench:1")
        compressed = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in
                         os.walk(os.path.join(tmp, "registry", "data")) for f in fs)
        os.unlink(archive)
        ref = f"{reg.address}/bench:1"
        mb = unpacked / 1e6
        # turn about, so both meet the disk in the same state
        samples = {"ours": [], "docker": []}
        with ours(bindir, tmp, ref) as our_pull, docker(tmp, reg.address, ref) as docker_pull:
            for _ in range(args.n):
                samples["ours"].append(our_pull())
                if docker_pull:
                    samples["docker"].append(docker_pull())
        results = [("ours (ctr images pull)", statistics.median(samples["ours"])),
                   ("Docker 20.10 (docker pull)", statistics.median(samples["docker"]) if samples["docker"] else None)]
    finally:
        if reg:
            reg.stop()
        reap_all()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"pull of a {len(HOST_DIRS) + 1}-layer image, {mb:.0f} MB unpacked, {compressed / 1e6:.0f} MB in the "
          f"registry (gzip), local docker-registry, median of {args.n}")
    base = results[1][1] or results[0][1]
    for label, t in results:
        if t is None:
            print(f"  {label:28s} (not installed)")
            continue
        print(f"  {label:28s} {t:6.2f} s  {mb / t:6.1f} MB/s unpacked  {base / t:5.2f}x Docker's throughput")
    return 0


if __name__ == "__main__":
    sys.exit(main())
