#!/usr/bin/env python3
"""Networking: our dockerd beside Debian's dockerd 20.10 (each with its own
default bridge and iptables rules), in one run:

  - docker run --rm busybox true on the default bridge vs --network none:
    what the bridge costs a container's start (median of N)
  - a published port: MiB/s through the userland proxy (127.0.0.1) and
    through DNAT (the bridge's address), 256 MiB into a sink in the container
  - 50 containers on one user network started one after another, then
    each name resolved from a container on it

    python benchmarks/network.py [--bindir DIR] [-n 10] [--mib 256]

Traffic stays on loopback and the two daemons' bridges. What Docker's
daemon made (docker0, its DOCKER chains) is removed after it, unless it
was there before (then Docker is not measured: one docker0 per host).
"""
import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import install  # noqa: E402

from busybox_engine.image import mkimage  # noqa: E402

BOX = "busybox:latest"
CLI = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"


def docker(env, *args, check=True, **kw):
    return subprocess.run([CLI, *args], env=env, check=check, capture_output=True, text=True, **kw)


def _iptables_docker() -> list:
    out = []
    for table in ("filter", "nat"):
        p = subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True)
        # its chains, and the rules for docker0 it puts straight into FORWARD and POSTROUTING
        out += [(table, line) for line in p.stdout.splitlines() if "DOCKER" in line or "docker0" in line]
    return out


def remove_docker_networking() -> None:
    """docker0 and Docker's chains, which its daemon leaves behind."""
    subprocess.run(["ip", "link", "del", "docker0"], capture_output=True)
    rules = _iptables_docker()
    for table, line in rules:
        if line.startswith("-A ") and not line.split()[1].startswith("DOCKER"):
            subprocess.run(["iptables", "-w", "-t", table, "-D", *line.split()[1:]], capture_output=True)
    for table, line in rules:
        if line.startswith("-N "):
            subprocess.run(["iptables", "-w", "-t", table, "-F", line.split()[1]], capture_output=True)
    for table, line in rules:
        if line.startswith("-N "):
            subprocess.run(["iptables", "-w", "-t", table, "-X", line.split()[1]], capture_output=True)


@contextlib.contextmanager
def real_dockerd():
    """Docker's daemon with its networking; its docker0 and chains go after it."""
    if os.path.exists("/sys/class/net/docker0") or _iptables_docker():
        yield None
        return
    try:
        with common.dockerd(networking=True) as d:
            yield d.env if d is not None else None
    finally:
        remove_docker_networking()


@contextlib.contextmanager
def our_dockerd(bindir: str):
    """Ours with a default bridge of this run's own (bbn0), removed after."""
    try:
        with common.our_dockerd(bindir, ["--bridge", "bbn0", "--bip", "10.217.0.1/24"]) as d:
            try:
                yield d.env
            finally:
                for c in docker(d.env, "ps", "-aq", check=False).stdout.split():
                    docker(d.env, "rm", "-f", c, check=False)
                docker(d.env, "network", "prune", "-f", check=False)
    finally:
        from busybox_engine.network import firewall
        subprocess.run(["ip", "link", "del", "bbn0"], capture_output=True)
        firewall.remove_rules(firewall.bridge_rules("bbn0", "10.217.0.0/24"))
        if not firewall.listed("filter", "BBE-FORWARD") and not firewall.listed("nat", "BBE-POSTROUTING"):
            firewall.remove_chains()


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_cost(env, n: int) -> tuple:
    """(median run --rm true on the bridge, on --network none) in seconds."""
    docker(env, "run", "--rm", BOX, "true")
    bridge = [timed(lambda: docker(env, "run", "--rm", BOX, "true")) for _ in range(n)]
    none = [timed(lambda: docker(env, "run", "--rm", "--network", "none", BOX, "true")) for _ in range(n)]
    return statistics.median(bridge), statistics.median(none)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def throughput(env, mib: int, tries: int = 3, extra: tuple = ()) -> tuple:
    """MiB/s into a sink in a container: through 127.0.0.1 (the userland
    proxy) and through the bridge's gateway address (DNAT), the best of
    `tries` transfers each (one is at the mercy of the scheduler)."""
    port = _free_port()
    docker(env, "run", "-d", "--name", "sink", "-p", f"{port}:9000", *extra, BOX, "sh", "-c",
           "while :; do nc -l -p 9000 > /dev/null; done")
    gw = docker(env, "inspect", "-f", "{{.NetworkSettings.Gateway}}", "sink").stdout.strip()
    out = []
    chunk = b"x" * (1 << 20)
    try:
        for host in [h for h in ("127.0.0.1", gw) for _ in range(tries)]:
            deadline = time.monotonic() + 15
            while True:
                # the sink's nc listens again some moments after a transfer: a
                # connection it refuses or resets is tried again, not timed
                try:
                    with socket.create_connection((host, port), timeout=10) as s:
                        t0 = time.perf_counter()
                        for _ in range(mib):
                            s.sendall(chunk)
                        s.shutdown(socket.SHUT_WR)
                        s.recv(1)
                    out.append(mib / (time.perf_counter() - t0))
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            time.sleep(0.3)
    finally:
        docker(env, "rm", "-f", "sink", check=False)
    return max(out[:tries]), max(out[tries:])


def many_on_a_network(env, count: int) -> tuple:
    """(seconds to start count containers on one user network, seconds for
    one of them to resolve every name)."""
    docker(env, "network", "create", "--subnet", "10.218.0.0/24", "benchnet")
    names = [f"n{i:02d}" for i in range(count)]
    try:
        start = timed(lambda: [docker(env, "run", "-d", "--name", n, "--network", "benchnet", "--dns", "127.0.0.1",
                                      BOX, "sleep", "1000") for n in names])
        script = " && ".join(f"nslookup {n} >/dev/null" for n in names)
        resolve = timed(lambda: docker(env, "exec", names[0], "sh", "-c", script))
    finally:
        docker(env, "rm", "-f", *names, check=False)
        docker(env, "network", "rm", "benchnet", check=False)
    return start, resolve


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--bindir")
    p.add_argument("-n", type=int, default=10)
    p.add_argument("--mib", type=int, default=256)
    p.add_argument("--count", type=int, default=50)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bbe-net-") as tmp:
        bindir = install(tmp, args.bindir)
        image = os.path.join(tmp, "busybox.tar")
        mkimage.main(["--tag", BOX, image])
        results = {}
        for label, ctx in (("ours", lambda: our_dockerd(bindir)), ("Docker 20.10", real_dockerd)):
            with ctx() as env:
                if env is None:
                    print(f"{label}: not measured (no dockerd, or a docker0 already here)")
                    continue
                docker(env, "load", "-i", image)
                bridge, none = run_cost(env, args.n)
                proxy, dnat = throughput(env, args.mib)
                start, resolve = many_on_a_network(env, args.count)
                results[label] = {"run --rm true, bridge (s)": bridge, "run --rm true, none (s)": none,
                                  "bridge cost (s)": bridge - none, "proxy 127.0.0.1 (MiB/s)": proxy,
                                  "DNAT gateway (MiB/s)": dnat, f"{args.count} on a network, start (s)": start,
                                  f"{args.count} names resolved (s)": resolve}
    keys = list(next(iter(results.values())).keys()) if results else []
    print(f"\n{'':44}{'ours':>12}{'Docker 20.10':>16}{'ours/Docker':>14}")
    for k in keys:
        a = results.get("ours", {}).get(k)
        b = results.get("Docker 20.10", {}).get(k)
        ratio = f"{a / b:.2f}x" if a is not None and b else ""
        fa = f"{a:.3f}" if a is not None else "-"
        fb = f"{b:.3f}" if b is not None else "-"
        print(f"{k:44}{fa:>12}{fb:>16}{ratio:>14}")


if __name__ == "__main__":
    main()
