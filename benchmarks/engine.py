#!/usr/bin/env python3
"""dockerd as the real docker CLI sees it, ours beside Docker 20.10
(Debian's docker.io, started here with its own data root), in one run,
both with --network none; medians:

  - `docker run --rm busybox true`
  - 50 `docker run -d` one after another, and 8 at a time
  - GET /containers/json with 50 containers, and /_ping: requests a
    second over one keep-alive connection
  - `docker logs` of 200,000 lines
  - an attached stream of N MiB through dockerd and the docker CLI
  - memory (PSS): dockerd + containerd idle, and everything (daemons and
    shims) with 50 containers running

    python benchmarks/engine.py [--bindir DIR] [-n 5] [--mib 1024] [--no-docker]
"""
import argparse
import concurrent.futures
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import daemon_pids, dockerd, install, memory, our_dockerd, parent, reap_all  # noqa: E402

from busybox_engine.image import mkimage  # noqa: E402

BOX = "busybox:latest"


def docker(d, *args, check=True, **kw):
    r = subprocess.run([d.cli, *args], capture_output=True, env=d.env, **kw)
    if check and r.returncode != 0:
        raise SystemExit(f"docker {' '.join(args)}: {r.stderr.decode(errors='replace')}")
    return r


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _read_response(s: socket.socket, buf: bytes) -> bytes:
    """Read one response (Content-Length or chunked) from s; what is left over."""
    while b"\r\n\r\n" not in buf:
        buf += _recv(s)
    head, _, buf = buf.partition(b"\r\n\r\n")
    head = head.lower()
    if b"transfer-encoding: chunked" in head:
        while True:
            while b"\r\n" not in buf:
                buf += _recv(s)
            size_line, _, buf = buf.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(buf) < size + 2:
                buf += _recv(s)
            buf = buf[size + 2:]
            if size == 0:
                return buf
    i = head.find(b"content-length:")
    length = int(head[i + 15:].split(b"\r\n")[0]) if i >= 0 else 0
    while len(buf) < length:
        buf += _recv(s)
    return buf[length:]


def _recv(s: socket.socket) -> bytes:
    data = s.recv(1 << 20)
    if not data:
        raise SystemExit("server closed the connection")
    return data


def requests_per_second(sock_path: str, path: str, seconds: float = 2.0, depth: int = 1) -> float:
    """GETs over one keep-alive connection, `depth` of them in flight
    (HTTP/1.1 pipelining: depth > 1 measures the server more than this
    Python client, which tops out near 18,000 a second sequentially)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sock_path)
    req = f"GET {path} HTTP/1.1\r\nHost: docker\r\n\r\n".encode()
    n = 0
    buf = b""
    end = time.perf_counter() + seconds
    t0 = time.perf_counter()
    s.sendall(req * depth)
    while time.perf_counter() < end:
        buf = _read_response(s, buf)
        n += 1
        s.sendall(req)
    for _ in range(depth):
        buf = _read_response(s, buf)
    elapsed = time.perf_counter() - t0
    s.close()
    return n / elapsed


def stream_mib(d, mib: int) -> float:
    p = subprocess.Popen([d.cli, "run", "--rm", "--network", "none", BOX, "dd", "if=/dev/zero", "bs=1M",
                          f"count={mib}"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=d.env, bufsize=0)
    t0 = time.perf_counter()
    got = 0
    while True:
        chunk = p.stdout.read(1 << 20)
        if not chunk:
            break
        got += len(chunk)
    p.wait()
    elapsed = time.perf_counter() - t0
    if got != mib << 20:
        raise SystemExit(f"attach stream: {got} bytes of {mib << 20}")
    return elapsed


def shims_of(d, names: list) -> list:
    pids = []
    for n in names:
        pid = int(docker(d, "inspect", "-f", "{{.State.Pid}}", n).stdout)
        pids.append(parent(pid))
    return sorted(set(pids))


def measure(d, label: str, args) -> dict:
    out = {"label": label}
    sock = d.env["DOCKER_HOST"][len("unix://"):]
    docker(d, "run", "--rm", "--network", "none", BOX, "true")   # warm
    time.sleep(1)
    daemons = daemon_pids(d.pid)
    out["idle_pss"] = memory(daemons)[1]
    out["run_rm"] = statistics.median(
        timed(lambda: docker(d, "run", "--rm", "--network", "none", BOX, "true")) for _ in range(args.n))
    out["ping"] = requests_per_second(sock, "/v1.41/_ping")
    out["ping16"] = requests_per_second(sock, "/v1.41/_ping", depth=16)
    names = [f"s{i}" for i in range(50)]
    out["run_d_seq"] = timed(lambda: [docker(d, "run", "-d", "--network", "none", "--name", n, BOX,
                                             "sleep", "100000") for n in names])
    time.sleep(1)
    out["ps_json"] = requests_per_second(sock, "/v1.41/containers/json")
    out["ps_json16"] = requests_per_second(sock, "/v1.41/containers/json", depth=16)
    shims = shims_of(d, names)
    out["busy_pss"] = memory(daemon_pids(d.pid) + shims)[1]
    docker(d, "rm", "-f", *names)
    names8 = [f"p{i}" for i in range(50)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        out["run_d_par"] = timed(lambda: list(pool.map(
            lambda n: docker(d, "run", "-d", "--network", "none", "--name", n, BOX, "sleep", "100000"), names8)))
    docker(d, "rm", "-f", *names8)
    docker(d, "run", "--name", "lines", "--network", "none", BOX, "seq", "1", "200000")
    out["logs"] = statistics.median(timed(lambda: docker(d, "logs", "lines")) for _ in range(3))
    lines = docker(d, "logs", "lines").stdout.count(b"\n")
    if lines != 200000:
        raise SystemExit(f"{label}: docker logs gave {lines} lines")
    docker(d, "rm", "lines")
    out["stream"] = stream_mib(d, args.mib)
    reap_all()
    return out


ROWS = [
    ("run_rm", "docker run --rm busybox true (s, median)", "low"),
    ("run_d_seq", "50 x docker run -d, one after another (s)", "low"),
    ("run_d_par", "50 x docker run -d, 8 at a time (s)", "low"),
    ("ps_json", "GET /containers/json, 50 containers (req/s)", "high"),
    ("ps_json16", "  the same, 16 pipelined (req/s)", "high"),
    ("ping", "GET /_ping (req/s)", "high"),
    ("ping16", "  the same, 16 pipelined (req/s)", "high"),
    ("logs", "docker logs, 200,000 lines (s)", "low"),
    ("stream", "attach stream through docker run (s)", "low"),
    ("idle_pss", "idle dockerd + containerd, PSS (MB)", "low"),
    ("busy_pss", "daemons + shims, 50 running, PSS (MB)", "low"),
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bindir", help="an installed busybox-engine (default: install dist/busybox-engine)")
    p.add_argument("-n", type=int, default=5)
    p.add_argument("--mib", type=int, default=1024, help="size of the attach stream")
    p.add_argument("--no-docker", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bbe-engine-") as tmp:
        bindir = install(tmp, args.bindir)
        image = os.path.join(tmp, "busybox.tar")
        mkimage.main(["--tag", BOX, image])
        results = []
        with our_dockerd(bindir) as ours:
            docker(ours, "load", "-i", image)
            results.append(measure(ours, "ours", args))
            print(results[-1], flush=True)
        if not args.no_docker:
            with dockerd() as real:
                if real is not None:
                    docker(real, "load", "-i", image)
                    results.append(measure(real, "Docker 20.10", args))
                    print(results[-1], flush=True)
    print(f"\nattach stream: {args.mib} MiB; medians of {args.n} where repeated")
    head = f"{'':48}" + "".join(f"{r['label']:>16}" for r in results)
    if len(results) == 2:
        head += f"{'ours/Docker':>14}"
    print(head)
    for key, text, _better in ROWS:
        line = f"{text:48}" + "".join(f"{r[key]:16.3f}" if r[key] < 100 else f"{r[key]:16.0f}"
                                      for r in results)
        if len(results) == 2:
            line += f"{results[0][key] / results[1][key]:13.2f}x"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
