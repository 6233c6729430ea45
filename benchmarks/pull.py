#!/usr/bin/env python3
"""Pull throughput: one image from a local docker-registry, pulled and
unpacked by our containerd (`ctr images pull`) and by Docker 20.10
(`docker pull`), in the same run (taking turns). The image is Debian bookworm made like
Docker's debian:bookworm (tests/fixtures/debian.py: debootstrap, one
layer), or with --image host three layers of this host's files (busybox,
/usr/lib/python3, /usr/share/doc).

    python benchmarks/pull.py [--bindir DIR] [-n 3] [--image debian|host]

Run it on a quiet disk: on this host's ext4 (no journal) a file made
within minutes of many deletes costs several times more, for both sides.
"""
import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import OurContainerd, dockerd, install, reap_all  # noqa: E402

from busybox_engine.core_pyx import linux  # noqa: E402
from busybox_engine.image import mkimage  # noqa: E402
from tests.fixtures.registry import RegistryServer  # noqa: E402

HOST_DIRS = ("usr/lib/python3", "usr/share/doc")


def dir_layer(path: str, arcname: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(path, arcname=arcname)
    return buf.getvalue()


def image_layers(tmp: str, kind: str) -> list:
    """The image's layer tars (bytes, bottom first)."""
    if kind == "debian":
        from tests.fixtures.debian import bookworm_archive
        with tarfile.open(bookworm_archive()) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))
            return [tar.extractfile(name).read() for name in manifest[0]["Layers"]]
    layers = [mkimage.layer_tar(mkimage.busybox_rootfs(os.path.join(tmp, "rootfs")))]
    return layers + [dir_layer("/" + d, d) for d in HOST_DIRS if os.path.isdir("/" + d)]


def marked(layer: bytes, mark: str) -> bytes:
    """The layer with one more small file: content no earlier pull has."""
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        for _ in tar:
            pass
        end = tar.offset  # where the end-of-archive blocks start
    buf = io.BytesIO()
    buf.write(layer[:end])
    with tarfile.open(fileobj=buf, mode="w") as tar:  # goes on from where buf is
        info = tarfile.TarInfo(f".bench/{mark}")
        info.size = len(mark)
        tar.addfile(info, io.BytesIO(mark.encode()))
    return buf.getvalue()


def settle() -> None:
    """Let the disk write back what the last pull left dirty, so neither
    side pays for the other's."""
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
def ours(bindir: str, tmp: str):
    """Our containerd; yields once(ref), one timed pull."""
    ctd = OurContainerd(bindir, tmp).start()
    try:
        yield lambda ref: timed(ctd.ctr + ["images", "pull", "--plain-http", ref])
    finally:
        ctd.stop()


@contextlib.contextmanager
def docker(tmp: str, registry: str):
    """Debian's dockerd 20.10; yields once(ref), one timed `docker pull` (or None)."""
    with dockerd(["--insecure-registry", registry]) as d:
        yield None if d is None else (lambda ref: timed([d.cli, "pull", "-q", ref], d.env))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bindir")
    p.add_argument("-n", type=int, default=3)
    p.add_argument("--image", choices=("debian", "host"), default="debian")
    args = p.parse_args()
    linux.set_child_subreaper(True)
    tmp = tempfile.mkdtemp(prefix="bbe-pull-")
    reg = None
    try:
        bindir = install(tmp, args.bindir)
        layers = image_layers(tmp, args.image)
        sizes = [len(layer) for layer in layers]
        reg = RegistryServer(os.path.join(tmp, "registry")).start()
        # every pull is of content neither side has seen: no layer is there
        # already, and nothing is deleted between pulls (ext4 here scans past
        # recently deleted inodes for minutes, which a fresh pull never meets)
        sides = ("ours", "docker")
        for i in range(args.n):
            for side in sides:
                tag = f"bench:{side}-{i}"
                archive = os.path.join(tmp, "variant.tar")
                mkimage.docker_archive(archive, [marked(layer, f"{tag}-{j}") for j, layer in enumerate(layers)],
                                       tag, cmd=("sh",))
                reg.push_archive(archive, tag)
                os.unlink(archive)
        compressed = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in
                         os.walk(os.path.join(tmp, "registry", "data")) for f in fs) / (2 * args.n)
        mb = sum(sizes) / 1e6
        # turn about, so both meet the disk in the same state
        samples = {"ours": [], "docker": []}
        with ours(bindir, tmp) as our_pull, docker(tmp, reg.address) as docker_pull:
            for i in range(args.n):
                samples["ours"].append(our_pull(f"{reg.address}/bench:ours-{i}"))
                if docker_pull:
                    samples["docker"].append(docker_pull(f"{reg.address}/bench:docker-{i}"))
        results = [("ours (ctr images pull)", statistics.median(samples["ours"])),
                   ("Docker 20.10 (docker pull)", statistics.median(samples["docker"]) if samples["docker"] else None)]
        for side, runs in samples.items():
            if runs:
                print(f"  {side} runs: {' '.join(f'{t:.2f}' for t in runs)} s (best {min(runs):.2f})")
    finally:
        if reg:
            reg.stop()
        reap_all()
        shutil.rmtree(tmp, ignore_errors=True)
    what = "Debian bookworm" if args.image == "debian" else "host files"
    print(f"pull of {what}, {len(sizes)} layer(s), {mb:.0f} MB unpacked, {compressed / 1e6:.0f} MB in the "
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
